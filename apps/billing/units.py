"""Billable units of one day of service: minutes per code in, units per code out, with reasons.

Pure: frozen dataclasses in and out, no Django. The rules are clinical-reference.md section 9:

* ``cms_total_time``, the CMS "8-minute rule" (Medicare Claims Processing Manual ch. 5 §20.2):
  the day's timed minutes are added up and the total alone decides how many timed units the day
  bills (``total_time_units``). Each code first gets a unit for each full 15 minutes it has, so a
  code done for 15 minutes or more gets at least one; the units still left go one each to the codes
  with the most minutes left over (largest remainder).
* ``ama_per_code``, the AMA/CPT "rule of eights": each timed code on its own, through the same
  table (8 minutes or more a unit, then one more for each further 15).

Untimed codes (the evaluations 97161-97164) are one unit each under both rules; their minutes,
whatever they are, count toward nothing.

Ties for the last units (codes with equal minutes left over) go first to the code with more minutes
in all, the service "performed for the most minutes" in the manual's words, then to the code that
sorts first as a string. Never to the order the lines came in: the same day gives the same answer
however its lines are ordered.

Why the units for full 15 minutes always fit in the day's total, so no code's guaranteed unit ever
has to be taken back: write each code's minutes m = 15q + r with 0 <= r <= 14, and over the day's
timed codes T = sum(m), Q = sum(q), S = sum(r). Then
``total_time_units(T) = (T + 7) // 15 = Q + (S + 7) // 15 >= Q``.
The units left after the full ones, (S + 7) // 15, are at most (14k + 7) // 15 <= k, where k counts
the codes with some minutes left over (r > 0): each of them gets at most one, and a code with
nothing left over gets none. So under CMS every timed code gets q or q + 1 units, q + 1 only if
r > 0: at least floor(m / 15), at most ceil(m / 15), and none for 0 minutes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

CMS_TOTAL_TIME = "cms_total_time"
AMA_PER_CODE = "ama_per_code"
RULES = (CMS_TOTAL_TIME, AMA_PER_CODE)

# Section 9: timed codes bill in 15-minute units; 8 minutes or more (past half a unit) bill one.
UNIT_MINUTES = 15
FIRST_UNIT_MINUTES = 8

UNTIMED_REASON = "untimed: one unit, its minutes not counted"


@dataclass(frozen=True)
class Line:
    """One code's minutes for the day (the caller adds up a code done twice into one line)."""

    code: str
    minutes: int  # 0 or more; an untimed code may carry 0 or any minutes
    timed: bool

    def __post_init__(self):
        if not isinstance(self.code, str) or not self.code.strip():
            raise ValueError(f"a line needs a code, got {self.code!r}")
        _check_minutes(self.minutes, f"{self.code}: minutes")
        if not isinstance(self.timed, bool):
            raise ValueError(f"{self.code}: timed must be True or False, got {self.timed!r}")


@dataclass(frozen=True)
class Units:
    code: str
    units: int
    minutes: int
    reasons: tuple[str, ...]


def total_time_units(total_minutes: int) -> int:
    """Section 9's table: 0 units for 0-7 minutes, 1 for 8-22, 2 for 23-37, ... each further 15 one more."""
    _check_minutes(total_minutes, "total minutes")
    return (total_minutes + UNIT_MINUTES - FIRST_UNIT_MINUTES) // UNIT_MINUTES


def units_for_day(lines: Sequence[Line], rule: str) -> list[Units]:
    """Units of each line under ``rule`` (one of ``RULES``), in the lines' order; a line with 0 units is kept."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: expected one of {', '.join(RULES)}")
    lines = list(lines)
    codes = [line.code for line in lines]
    duplicates = sorted(code for code, count in Counter(codes).items() if count > 1)
    if duplicates:
        raise ValueError(
            f"duplicate codes {', '.join(duplicates)}: give each code once, with its minutes for the day added up"
        )
    timed = [line for line in lines if line.timed]
    by_code = _cms_total_time(timed) if rule == CMS_TOTAL_TIME else _ama_per_code(timed)
    for line in lines:
        if not line.timed:
            by_code[line.code] = Units(line.code, 1, line.minutes, (UNTIMED_REASON,))
    return [by_code[code] for code in codes]


def _cms_total_time(lines: list[Line]) -> dict[str, Units]:
    total = sum(line.minutes for line in lines)
    day_units = total_time_units(total)
    day = f"day's timed minutes {total}: {_units_text(day_units)} in all"
    full = {line.code: line.minutes // UNIT_MINUTES for line in lines}
    left = day_units - sum(full.values())  # never negative: see the module's docstring
    # Codes with minutes left over, the first ``left`` of them get a unit each (at most one each).
    ranked = sorted(
        (line for line in lines if line.minutes % UNIT_MINUTES),
        key=lambda line: (-(line.minutes % UNIT_MINUTES), -line.minutes, line.code),
    )
    winners = {line.code for line in ranked[:left]}
    # Equal remainders on both sides of the cut: the tie-break decided, and says so.
    tied_remainder = None
    if 0 < left < len(ranked) and ranked[left - 1].minutes % UNIT_MINUTES == ranked[left].minutes % UNIT_MINUTES:
        tied_remainder = ranked[left].minutes % UNIT_MINUTES

    result = {}
    for line in lines:
        whole, remainder = divmod(line.minutes, UNIT_MINUTES)
        reasons = [day]
        if line.minutes == 0:
            reasons.append("no minutes: no unit")
        if whole:
            reasons.append(f"15 minutes or more: {_units_text(whole)} for {whole * UNIT_MINUTES} full minutes")
        tied = bool(remainder) and remainder == tied_remainder
        if line.code in winners:
            reasons.append(f"largest remainder: a unit for {remainder} minutes left over")
        elif remainder and not left:
            reasons.append(f"{remainder} minutes left over: the day's total leaves no unit for them")
        elif remainder and not tied:
            reasons.append(f"{remainder} minutes left over: fewer than the remainders billed")
        if tied:
            outcome = "billed" if line.code in winners else "not billed"
            reasons.append(f"tie at {remainder} minutes left over: {outcome} by more minutes in all, then code order")
        units = whole + (line.code in winners)
        result[line.code] = Units(line.code, units, line.minutes, tuple(reasons))
    return result


def _ama_per_code(lines: list[Line]) -> dict[str, Units]:
    result = {}
    for line in lines:
        units = total_time_units(line.minutes)
        if units:
            reason = f"rule of eights, this code on its own: {line.minutes} minutes, {_units_text(units)}"
        else:
            reason = f"rule of eights, this code on its own: {line.minutes} minutes, under 8, no unit"
        result[line.code] = Units(line.code, units, line.minutes, (reason,))
    return result


def _check_minutes(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number of minutes, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} cannot be negative, got {value}")


def _units_text(units: int) -> str:
    return f"{units} unit" if units == 1 else f"{units} units"
