"""How a dose reads, and which doses an exercise allows: pure rules over plain values.

One wording for every place a dose is shown (the program, the handout, the patient's
page, e-mails, versions, progression proposals) and one set of limits for every way a dose
is written (admin, API, progression). No Django imports: the models, the services and the
progression engine all call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DOSE_WORDS = {"repetitions": "repetitions", "hold_seconds": "seconds' hold", "steps": "steps", "minutes": "minutes"}
# The bare unit, for sentences about a number of them ("2 or more beyond 30 seconds").
UNITS = {"repetitions": "repetitions", "hold_seconds": "seconds", "steps": "steps", "minutes": "minutes"}
LOAD_UNIT_LABELS = {"none": "No load", "kg": "kg", "band": "Band level"}


@dataclass(frozen=True)
class Limits:
    """What an exercise allows (from ``Exercise``, or a library entry)."""

    name: str
    dose_type: str  # repetitions | hold_seconds | steps | minutes
    min_sets: int
    max_sets: int
    min_dose: int
    max_dose: int
    load_unit: str = "none"  # none | kg | band
    max_load: float | Decimal | None = None
    per_side: bool = False


def limits_of(exercise) -> Limits:
    """The limits of an ``Exercise`` (or anything with the same attributes)."""
    return Limits(name=exercise.name, dose_type=exercise.dose_type, min_sets=exercise.min_sets,
                  max_sets=exercise.max_sets, min_dose=exercise.min_dose, max_dose=exercise.max_dose,
                  load_unit=exercise.load_unit, max_load=exercise.max_load, per_side=exercise.per_side)


def load_text(load_unit: str, load) -> str:
    """'1.5 kg' or 'band level 2'."""
    return f"band level {float(load):g}" if load_unit == "band" else f"{float(load):g} kg"


def dose_text(limits: Limits, *, sets: int, dose_low: int, dose_high: int, load=None, side: str = "both") -> str:
    """'2 sets of 8-12 repetitions on each side, 1.5 kg'."""
    amount = f"{dose_low}" if dose_low == dose_high else f"{dose_low}-{dose_high}"
    text = f"{sets} set{'' if sets == 1 else 's'} of {amount} {DOSE_WORDS[limits.dose_type]}"
    if side in ("left", "right"):
        text += f" on the {side} side"
    elif limits.per_side:
        text += " on each side"
    if load:
        text += f", {load_text(limits.load_unit, load)}"
    return text


def dose_problems(limits: Limits, *, sets, dose_low, dose_high, load) -> dict[str, list[str]]:
    """Why this dose is not allowed for the exercise, by field; empty when it is."""
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if sets is None or not limits.min_sets <= sets <= limits.max_sets:
        add("sets", f"{limits.name}: sets must be {limits.min_sets} to {limits.max_sets}.")
    unit = DOSE_WORDS[limits.dose_type]
    for name, value in (("dose_low", dose_low), ("dose_high", dose_high)):
        if value is None or not limits.min_dose <= value <= limits.max_dose:
            add(name, f"{limits.name}: {limits.min_dose} to {limits.max_dose} {unit}.")
    if dose_low is not None and dose_high is not None and dose_low > dose_high:
        add("dose_high", "The top of the range must not be below the bottom.")
    if load is not None:
        if limits.load_unit == "none":
            add("load", f"{limits.name} takes no load.")
        elif load <= 0:
            add("load", "A load must be above zero (leave it empty for none).")
        elif limits.max_load is not None and load > limits.max_load:
            add("load", f"{limits.name}: at most {float(limits.max_load):g} {LOAD_UNIT_LABELS[limits.load_unit]}.")
    return problems
