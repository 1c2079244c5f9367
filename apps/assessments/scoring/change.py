"""Change between two scores of one measure, and whether it is a change that matters (MCID).

clinical-reference.md section 3, "change that matters". Each measure has a threshold in
points and, for NPRS and ODI, an alternative in percent of the baseline; reaching either
counts. Only a change in the better direction can reach it, and reaching it exactly
counts (>=).

Arithmetic is done on the decimals as written (``str(44.4)``), not on binary floats, so
10 -> 7 on the NPRS is exactly a 30 % fall and 44.4 -> 31.1 on the ODI exactly 13.3 points.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from apps.assessments.scoring import MEASURES, Measure, ScoringError, as_measure, round_half_up


@dataclass(frozen=True, slots=True)
class Mcid:
    """The smallest change that matters: ``points``, or ``percent`` of the baseline where given."""

    points: Decimal
    percent: Decimal | None
    source: str


# clinical-reference.md section 3, "change that matters".
MCID: dict[Measure, Mcid] = {
    # A fall of 2 points or 30 %: Farrar 2001 (PMID 11690728); Childs 2005 (PMID 15928561).
    Measure.NPRS: Mcid(Decimal(2), Decimal(30), "Farrar 2001; Childs 2005"),
    # A rise of 9 points: Binkley 1999.
    Measure.LEFS: Mcid(Decimal(9), None, "Binkley 1999"),
    # A fall of 10 points or 30 %: Ostelo 2008.
    Measure.ODI: Mcid(Decimal(10), Decimal(30), "Ostelo 2008"),
    # A rise of 2 points: the MDC90 of the mean score (a detectable change, used as the MCID).
    Measure.PSFS: Mcid(Decimal(2), None, "MDC90"),
}


@dataclass(frozen=True, slots=True)
class Change:
    """``delta`` is current - baseline; ``percent`` the same relative to the baseline (None from 0)."""

    delta: float
    percent: float | None
    improved: bool
    mcid_reached: bool
    threshold: str


def threshold_text(measure: Measure | str) -> str:
    """The MCID of ``measure`` in words, e.g. "a fall of 2 points or 30 %"."""
    measure = as_measure(measure)
    mcid = MCID[measure]
    direction = "a rise" if MEASURES[measure].higher_is_better else "a fall"
    text = f"{direction} of {mcid.points} points"
    return f"{text} or {mcid.percent} %" if mcid.percent is not None else text


def change(measure: Measure | str, baseline: float, current: float) -> Change:
    """How ``current`` compares with ``baseline`` on ``measure``."""
    measure = as_measure(measure)
    info, mcid = MEASURES[measure], MCID[measure]
    before = _score_value(baseline, name="baseline", low=info.minimum, high=info.maximum)
    after = _score_value(current, name="current", low=info.minimum, high=info.maximum)
    delta = after - before
    gain = delta if info.higher_is_better else -delta  # > 0 is better, whichever the measure's direction
    reached = gain > 0 and (
        gain >= mcid.points or (mcid.percent is not None and before != 0 and gain * 100 >= mcid.percent * before)
    )
    percent = round_half_up(Fraction(delta * 100 / before)) if before != 0 else None
    return Change(
        delta=float(delta), percent=percent, improved=gain > 0, mcid_reached=reached,
        threshold=threshold_text(measure),
    )


def _score_value(value: Any, *, name: str, low: float, high: float) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ScoringError(f"{name}: {value!r} is not a number")
    exact = Decimal(str(value))
    if not exact.is_finite() or not low <= exact <= high:
        raise ScoringError(f"{name}: {value} is outside {low}-{high}")
    return exact
