"""Outcome-measure scoring: plain item values in, a ``Score`` out (no Django, no database).

One module per measure (``nprs``, ``lefs``, ``odi``, ``psfs``), each with its constants
and ``score(items) -> Score``; ``score(measure, items)`` here dispatches to them, and
``change.change()`` says whether a change between two scores matters. The rules are
those of ``/work/shared/clinical-reference.md`` section 3.

Items are given as stored in ``OutcomeMeasure.items`` (JSON): a list with one position
per item, ``None`` for an unanswered one. A value that cannot be right (out of range,
not a whole number, too many items) raises ``ScoringError`` naming the item; a missing
answer is never an error, the measure's own rule decides what it does to the score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any


class ScoringError(ValueError):
    """Items that cannot be scored as given: the message names the bad item."""


class Measure(StrEnum):
    """The outcome measures we score (a str: "nprs", ...; StrEnum is the str-and-Enum of Python 3.11)."""

    NPRS = "nprs"
    LEFS = "lefs"
    ODI = "odi"
    PSFS = "psfs"


@dataclass(frozen=True, slots=True)
class Score:
    """A measure's score: ``value`` is None when the measure's rules give no score."""

    value: float | None
    complete: bool
    answered: int
    expected: int
    missing: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class MeasureInfo:
    """What a screen or chart needs to show a measure's score."""

    label: str
    minimum: float
    maximum: float
    higher_is_better: bool

    @property
    def range(self) -> tuple[float, float]:
        return self.minimum, self.maximum


# clinical-reference.md section 3: each measure's score range and which way is better.
MEASURES: dict[Measure, MeasureInfo] = {
    Measure.NPRS: MeasureInfo("Pain now (NPRS)", 0, 10, higher_is_better=False),
    Measure.LEFS: MeasureInfo("Lower Extremity Functional Scale", 0, 80, higher_is_better=True),
    Measure.ODI: MeasureInfo("Oswestry Disability Index", 0, 100, higher_is_better=False),
    Measure.PSFS: MeasureInfo("Patient-Specific Functional Scale", 0, 10, higher_is_better=True),
}


def info(measure: Measure | str) -> MeasureInfo:
    """The label, range and direction of ``measure``."""
    return MEASURES[as_measure(measure)]


def as_measure(measure: Measure | str) -> Measure:
    """``measure`` as a ``Measure``; an unknown name raises ``ScoringError``."""
    try:
        return Measure(measure)
    except ValueError:
        known = ", ".join(m.value for m in Measure)
        raise ScoringError(f"measure: {measure!r} is not one of {known}") from None


def score(measure: Measure | str, items: Any) -> Score:
    """Score ``items`` by the rules of ``measure``."""
    return _scorers()[as_measure(measure)](items)


def _scorers() -> dict[Measure, Callable[[Any], Score]]:
    # Imported here, not at the top: each measure module imports Score and the helpers
    # below from this package, so importing them first would be circular.
    from apps.assessments.scoring import lefs, nprs, odi, psfs

    return {Measure.NPRS: nprs.score, Measure.LEFS: lefs.score, Measure.ODI: odi.score, Measure.PSFS: psfs.score}


# ---------------------------------------------------------------------------- helpers for the measure modules


def item_positions(items: Any, *, expected: int, noun: str = "item") -> list[Any]:
    """``items`` as a list of exactly ``expected`` positions, or ``ScoringError``."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ScoringError(f"items: expected a list of {expected} {noun}s, got {type(items).__name__}")
    if len(items) != expected:
        more_or_fewer = "too many" if len(items) > expected else "too few"
        raise ScoringError(
            f"items: {more_or_fewer} {noun}s: expected {expected}, got {len(items)} (give None for an unanswered one)"
        )
    return list(items)


def whole_number(value: Any, *, name: str, low: int, high: int) -> int:
    """``value`` as an int within ``low``-``high``, or ``ScoringError`` naming ``name``.

    A whole float (7.0, as JSON may give it) is accepted; True/False, strings and
    fractions are not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScoringError(f"{name}: {value!r} is not a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ScoringError(f"{name}: {value!r} is not a whole number")
        value = int(value)
    if not low <= value <= high:
        raise ScoringError(f"{name}: {value} is outside {low}-{high}")
    return value


def round_half_up(value: Fraction | int, places: int = 1) -> float:
    """``value`` rounded half away from zero, as on paper (``round()`` would make 2.25 2.2)."""
    exact = Fraction(value)
    decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    return float(decimal.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 section', '2 sections'; ``nouns`` for an irregular plural ('activities')."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"
