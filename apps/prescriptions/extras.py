"""Figures other apps show on a program (adherence, from followups), without this app importing theirs.

An app above prescriptions registers a ``ProgramFigure`` in its ``AppConfig.ready()``; the
program API adds it as a read-only field and the program admin as a list column, and both
prefetch what it reads once per page of programs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class ProgramFigure:
    name: str
    # A fresh read-only DRF field for the API (``source="*"``: it reads the program); None: not in the API.
    api_field: Callable[[], Any] | None = None
    # The admin list's cell for one program, decorated with ``admin.display``; None: not in the admin.
    admin_column: Callable[[Any], Any] | None = None
    prefetch: tuple = field(default_factory=tuple)


PROGRAM_FIGURES: dict[str, ProgramFigure] = {}


def register_program_figure(figure: ProgramFigure) -> None:
    PROGRAM_FIGURES[figure.name] = figure


def with_figures(programs: QuerySet) -> QuerySet:
    """``programs`` with what every registered figure reads prefetched."""
    lookups = list(dict.fromkeys(lookup for figure in PROGRAM_FIGURES.values() for lookup in figure.prefetch))
    return programs.prefetch_related(*lookups) if lookups else programs
