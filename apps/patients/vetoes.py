"""Reasons a patient's record cannot be archived yet, given by the apps that know them.

Apps above patients register a veto in their ``AppConfig.ready()`` (scheduling: upcoming
appointments), so archiving asks them without the patients app importing theirs.
"""

from __future__ import annotations

from collections.abc import Callable

from apps.patients.models import Patient

ArchiveVeto = Callable[[Patient], str | None]

ARCHIVE_VETOES: dict[str, ArchiveVeto] = {}


def register_archive_veto(name: str, veto: ArchiveVeto) -> None:
    """``veto(patient)`` returns why the record must stay open (a sentence), or None."""
    ARCHIVE_VETOES[name] = veto


def archive_refusals(patient: Patient) -> list[str]:
    return [reason for veto in ARCHIVE_VETOES.values() if (reason := veto(patient))]
