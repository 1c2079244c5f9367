"""The progression engine: a program item's session logs in, one proposal out, with its reason in words.

Pure: frozen dataclasses in and out, no Django. The rules are clinical-reference.md section 5
(defaults a clinic can edit) over the ladder of section 4:

* pain first (Silbernagel 2007 pain-monitoring model): pain above 5/10 during the latest
  session, or worse the next morning -> one step back;
* two-for-two (Baechle & Earle, NSCA): 2 or more beyond the top of the range on the last set
  in 2 consecutive sessions, all prescribed sets done -> one step up, in the order
  range -> a set (max 3) -> load (ankle weight or band) -> the next rung of the ladder,
  back at the bottom of its range;
* otherwise keep.

One step back undoes the progression path, most recent kind of step first (see ``_step_back``).

``ItemState.logs`` must be the sessions done at the item's current dose, oldest first: the
caller drops the sessions logged before the dose last changed, otherwise a session at the old
dose counts toward the new one (and a worse morning already acted on would count twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any, Literal

from apps.prescriptions import dosing

Action = Literal["progress", "regress", "keep"]
Morning = Literal["better", "same", "worse"]

# Section 5, pain-monitoring model: "pain 0-2 safe, up to 5/10 acceptable during exercise if it
# settles by next morning; above 5, or worse the next day, regress one step".
PAIN_SAFE_MAX = 2
PAIN_REGRESS_ABOVE = 5
NEXT_MORNING_ANSWERS = ("better", "same", "worse")

# Section 5, two-for-two (Baechle & Earle, NSCA): "2 or more reps beyond the prescribed top of
# range on the last set in 2 consecutive sessions". Applied alike to seconds held and steps.
TWO_FOR_TWO_MARGIN = 2
TWO_FOR_TWO_SESSIONS = 2

# Section 5, "reps up to the top of range (20)": the range moves up by one step at a time, both
# ends, never past the exercise's max_dose. Clinic-editable: 2 repetitions (what two-for-two has
# just shown) or steps or minutes; 5 s for a hold ("or hold time" is this same range step).
REP_STEP = 2
HOLD_STEP_SECONDS = 5

# Section 5, "add a set (max 3)"; an exercise's own max_sets may be lower, never higher.
SETS_CAP = 3

# Section 5, "add load (ankle weight +2-10 %, ACSM 2009)": ankle weights come in 0.5 kg steps,
# the smallest step there is (10 % at 5 kg; more than 10 % below it). Capped at max_load; an
# exercise in kg without a max_load has no cap, as in prescriptions.services.dose_problems.
LOAD_STEP_KG = 0.5
# prescriptions.library.BAND_LEVELS: band resistance level 1 (lightest) to 5; one level a step.
BAND_STEP = 1
BAND_MAX_LEVEL = 5

# Section 5, "next exercise up the ladder, back at the bottom of its range": its default sets,
# its range from min_dose to default_dose_low, no load (the load is the third progression step).

DOSE_UNITS = dosing.UNITS
LOAD_UNITS = ("none", "kg", "band")
ACTION_LABELS = {"progress": "Step up", "regress": "Step back", "keep": "Keep"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ProgressionError(ValueError):
    """A log or state that cannot be right (pain outside 0-10, a negative count, ...)."""


@dataclass(frozen=True)
class ExerciseFacts:
    slug: str
    name: str
    ladder_rank: int
    dose_type: str              # repetitions | hold_seconds | steps | minutes
    min_sets: int
    max_sets: int
    min_dose: int
    max_dose: int
    load_unit: str              # none | kg | band
    max_load: float | None
    default_dose_low: int
    default_sets: int = 2       # section 4: "start with 2-3 sets"
    default_dose_high: int | None = None  # None: the same as default_dose_low
    muscle_bias: str = ""       # iliopsoas | rectus_femoris; the next rung prefers the same

    def __post_init__(self):
        if self.max_load is not None:
            object.__setattr__(self, "max_load", float(self.max_load))  # a Decimal from the database

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ExerciseFacts:
        """From a library entry or a model's field values; other keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass(frozen=True)
class Dose:
    sets: int
    dose_low: int
    dose_high: int
    load: float | None = None   # kg, or a band level; None: no load

    def __post_init__(self):
        if self.load is not None:
            object.__setattr__(self, "load", float(self.load))  # a Decimal from the database


@dataclass(frozen=True)
class ItemLog:
    date: date
    sets_done: int
    last_set_amount: int | None         # repetitions on the last set, or seconds held, or steps
    pain_during: int | None = None      # 0-10
    next_morning: Morning | None = None  # "" (a blank form field) counts as not answered yet


@dataclass(frozen=True)
class ItemState:
    item_id: int
    exercise: ExerciseFacts
    dose: Dose
    logs: list[ItemLog]         # at the current dose, oldest first (newest last)


@dataclass(frozen=True)
class Proposal:
    item_id: int
    action: Action
    new_dose: Dose | None
    new_exercise: ExerciseFacts | None  # set only when moving to another rung
    reason: str


def describe(proposal: Proposal) -> str:
    """One line for a list of proposals: "Step up: Two sessions in a row ..."."""
    return f"{ACTION_LABELS[proposal.action]}: {proposal.reason}"


def dose_text(exercise: ExerciseFacts, dose: Dose) -> str:
    """ "2 sets of 8-12 repetitions, 1.5 kg": the program's own wording (``prescriptions.dosing``)."""
    limits = dosing.Limits(name=exercise.name, dose_type=exercise.dose_type, min_sets=exercise.min_sets,
                           max_sets=exercise.max_sets, min_dose=exercise.min_dose, max_dose=exercise.max_dose,
                           load_unit=exercise.load_unit, max_load=exercise.max_load)
    return dosing.dose_text(limits, sets=dose.sets, dose_low=dose.dose_low, dose_high=dose.dose_high, load=dose.load)


# ---------------------------------------------------------------------------- the engine


def propose(
    state: ItemState,
    *,
    ladder: Iterable[ExerciseFacts],
    load_step: float = LOAD_STEP_KG,
    hold_step: int = HOLD_STEP_SECONDS,
    rep_step: int = REP_STEP,
) -> Proposal:
    """The proposal for one program item from its logs: progress, regress or keep, with the reason."""
    _validate(state)
    ladder = list(ladder)
    exercise = state.exercise
    dose = state.dose
    # A blank form field ("") is a next-morning question not answered yet, like None.
    logs = [replace(log, next_morning=None) if log.next_morning == "" else log for log in state.logs]
    steps = _Steps(load=load_step, dose=hold_step if exercise.dose_type == "hold_seconds" else rep_step)

    def keep(reason: str) -> Proposal:
        return Proposal(state.item_id, "keep", None, None, reason)

    if not logs:
        return keep("No sessions logged yet.")

    pain_reason = _pain_reason(logs)
    if pain_reason:
        back = _step_back(exercise, dose, ladder, steps)
        if back is None:
            return keep(f"{pain_reason}, but {exercise.name} at {dose_text(exercise, dose)} is already the easiest "
                        "step of the ladder: keep it and ask the therapist to review.")
        new_exercise, new_dose, change = back
        return Proposal(state.item_id, "regress", new_dose, new_exercise, f"{pain_reason}, so one step back: {change}.")

    target = dose.dose_high + TWO_FOR_TWO_MARGIN
    unit = DOSE_UNITS[exercise.dose_type]
    recent = logs[-TWO_FOR_TWO_SESSIONS:]
    if len(recent) < TWO_FOR_TWO_SESSIONS or not all(_meets(log, dose, target) for log in recent):
        return keep(f"Not yet two sessions in a row at {TWO_FOR_TWO_MARGIN} or more beyond {dose.dose_high} {unit}.")

    evidence = (f"Two sessions in a row at {TWO_FOR_TWO_MARGIN} or more beyond {dose.dose_high} {unit} ("
                + " and ".join(f"{log.last_set_amount} on {_day(log.date)}" for log in recent) + ")")
    latest = logs[-1]
    if (latest.pain_during or 0) > PAIN_SAFE_MAX and latest.next_morning is None:
        # Section 5: pain up to 5/10 is acceptable only "if it settles by next morning".
        return keep(f"{evidence}, but pain was {latest.pain_during}/10 during the exercise on {_day(latest.date)}: "
                    "wait for the next-morning answer before stepping up.")
    up = _step_up(exercise, dose, ladder, steps)
    if up is None:
        return keep(f"{evidence}, but {exercise.name} at {dose_text(exercise, dose)} is the top of the ladder: "
                    "keep it.")
    new_exercise, new_dose, change = up
    return Proposal(state.item_id, "progress", new_dose, new_exercise, f"{evidence}, so one step up: {change}.")


@dataclass(frozen=True)
class _Steps:
    load: float     # kg
    dose: int       # repetitions, seconds, steps or minutes


Change = tuple[ExerciseFacts | None, Dose, str]  # new exercise (None: the same), new dose, the change in words


def _step_up(exercise: ExerciseFacts, dose: Dose, ladder: list[ExerciseFacts], steps: _Steps) -> Change | None:
    unit = DOSE_UNITS[exercise.dose_type]
    # (a) the range, both ends, up to the exercise's top (section 5: "reps up to the top of range").
    if dose.dose_high < exercise.max_dose:
        high = min(dose.dose_high + steps.dose, exercise.max_dose)
        low = min(dose.dose_low + steps.dose, high)
        new = replace(dose, dose_low=low, dose_high=high)
        return None, new, f"the range goes from {_range(dose)} to {_range(new)} {unit}"
    # (b) a set, up to 3.
    if dose.sets < min(exercise.max_sets, SETS_CAP):
        return None, replace(dose, sets=dose.sets + 1), f"one set more, {dose.sets} to {dose.sets + 1} sets"
    # (c) load: ankle weight in kg, or the next band. A hold's "hold time" is its range, done in (a).
    cap = _load_cap(exercise)
    current = dose.load or 0.0
    if exercise.load_unit != "none" and (cap is None or current < cap):
        step = steps.load if exercise.load_unit == "kg" else BAND_STEP
        load = round(current + step, 2)
        if cap is not None:
            load = min(load, cap)
        return None, replace(dose, load=load), _load_change(exercise, current, load)
    # (d) the next rung of the ladder, at the bottom of its range, without load.
    rung = _neighbour(exercise, ladder, higher=True)
    if rung is None:
        return None
    new = Dose(sets=_clamp(rung.default_sets, rung.min_sets, rung.max_sets),
               dose_low=rung.min_dose, dose_high=max(rung.min_dose, rung.default_dose_low), load=None)
    return rung, new, (f"the next rung of the ladder, {rung.name} (rank {rung.ladder_rank}), at the bottom of its "
                       f"range: {dose_text(rung, new)}")


def _step_back(exercise: ExerciseFacts, dose: Dose, ladder: list[ExerciseFacts], steps: _Steps) -> Change | None:
    """One step back: the progression path undone, the most recently taken kind of step first.

    The path from a rung's default dose is range -> set -> load, so: load down (or off) ->
    a set added above the default taken away -> the range down toward min_dose -> a set down
    toward min_sets -> the previous rung at its default dose. The patient goes back to a dose
    they last tolerated; intensity (load) always goes before volume.
    """
    unit = DOSE_UNITS[exercise.dose_type]
    if dose.load and exercise.load_unit != "none":
        step = steps.load if exercise.load_unit == "kg" else BAND_STEP
        load = round(dose.load - step, 2)
        new_load = load if load > 0 else None
        return None, replace(dose, load=new_load), _load_change(exercise, dose.load, new_load)
    if dose.sets > max(exercise.default_sets, exercise.min_sets):
        return None, replace(dose, sets=dose.sets - 1), f"one set fewer, {dose.sets} to {dose.sets - 1} sets"
    if dose.dose_high > exercise.min_dose:
        high = max(dose.dose_high - steps.dose, exercise.min_dose)
        low = max(min(dose.dose_low - steps.dose, high), exercise.min_dose)
        new = replace(dose, dose_low=low, dose_high=high)
        return None, new, f"the range goes from {_range(dose)} to {_range(new)} {unit}"
    if dose.sets > exercise.min_sets:
        return None, replace(dose, sets=dose.sets - 1), f"one set fewer, {dose.sets} to {dose.sets - 1} sets"
    rung = _neighbour(exercise, ladder, higher=False)
    if rung is None:
        return None
    low = rung.default_dose_low
    high = rung.default_dose_high if rung.default_dose_high is not None else low
    new = Dose(sets=_clamp(rung.default_sets, rung.min_sets, rung.max_sets), dose_low=low, dose_high=high, load=None)
    return rung, new, (f"back to the previous rung of the ladder, {rung.name} (rank {rung.ladder_rank}), at its "
                       f"default dose: {dose_text(rung, new)}")


def _neighbour(exercise: ExerciseFacts, ladder: list[ExerciseFacts], *, higher: bool) -> ExerciseFacts | None:
    """The nearest rung above (or below): never skips a rank; the same muscle bias if that rank has one.

    Among equals, the ladder's own order decides (pass it as Exercise.objects.active().ladder()).
    """
    others = [rung for rung in ladder if rung.slug != exercise.slug
              and (rung.ladder_rank > exercise.ladder_rank if higher else rung.ladder_rank < exercise.ladder_rank)]
    if not others:
        return None
    rank = (min if higher else max)(rung.ladder_rank for rung in others)
    at_rank = [rung for rung in others if rung.ladder_rank == rank]
    same_bias = [rung for rung in at_rank if exercise.muscle_bias and rung.muscle_bias == exercise.muscle_bias]
    return (same_bias or at_rank)[0]


def _pain_reason(logs: list[ItemLog]) -> str:
    """Why to step back, in words, or "" when the pain rule does not apply."""
    latest = logs[-1]
    parts = []
    if latest.pain_during is not None and latest.pain_during > PAIN_REGRESS_ABOVE:
        parts.append(f"Pain {latest.pain_during}/10 during the exercise on {_day(latest.date)}: "
                     f"above {PAIN_REGRESS_ABOVE}")
    # The next-morning answer comes a day late: until the latest session has one, the one
    # before it is the latest answer there is (and, logs being at the current dose, not yet acted on).
    answered = latest if latest.next_morning is not None or len(logs) == 1 else logs[-2]
    if answered.next_morning == "worse":
        worse = f"worse the next morning after the session on {_day(answered.date)}"
        parts.append(worse if parts else worse[0].upper() + worse[1:])
    return ", and ".join(parts)


def _meets(log: ItemLog, dose: Dose, target: int) -> bool:
    """This session counts toward two-for-two: all sets done, the last set at the target, tolerated."""
    return (log.sets_done >= dose.sets
            and log.last_set_amount is not None and log.last_set_amount >= target
            and (log.pain_during is None or log.pain_during <= PAIN_REGRESS_ABOVE)
            and log.next_morning != "worse")


# ---------------------------------------------------------------------------- checks and words


def _validate(state: ItemState) -> None:
    exercise, dose = state.exercise, state.dose
    if exercise.dose_type not in DOSE_UNITS:
        raise ProgressionError(f"{exercise.name}: unknown dose type {exercise.dose_type!r}.")
    if exercise.load_unit not in LOAD_UNITS:
        raise ProgressionError(f"{exercise.name}: unknown load unit {exercise.load_unit!r}.")
    if dose.sets < 0 or dose.dose_low < 0 or dose.dose_high < dose.dose_low:
        raise ProgressionError(f"Item {state.item_id}: the dose {dose.sets} x {dose.dose_low}-{dose.dose_high} "
                               "cannot be right.")
    if dose.load is not None and dose.load < 0:
        raise ProgressionError(f"Item {state.item_id}: a load cannot be negative ({dose.load}).")
    previous = None
    for log in state.logs:
        where = f"Item {state.item_id}, session on {_day(log.date)}"
        if not _whole(log.sets_done) or log.sets_done < 0:
            raise ProgressionError(f"{where}: sets done must be a whole number from 0 ({log.sets_done!r}).")
        if log.last_set_amount is not None and (not _whole(log.last_set_amount) or log.last_set_amount < 0):
            raise ProgressionError(f"{where}: the last set must be a whole number from 0 ({log.last_set_amount!r}).")
        if log.pain_during is not None and (not _whole(log.pain_during) or not 0 <= log.pain_during <= 10):
            raise ProgressionError(f"{where}: pain must be a whole number 0-10 ({log.pain_during!r}).")
        if log.next_morning not in (None, "", *NEXT_MORNING_ANSWERS):
            raise ProgressionError(f"{where}: the next morning is better, same or worse ({log.next_morning!r}).")
        if previous is not None and log.date < previous:
            raise ProgressionError(f"Item {state.item_id}: the logs must be oldest first.")
        previous = log.date


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _load_cap(exercise: ExerciseFacts) -> float | None:
    if exercise.load_unit == "band":
        return float(min(BAND_MAX_LEVEL, exercise.max_load or BAND_MAX_LEVEL))
    return exercise.max_load


def _load_change(exercise: ExerciseFacts, before: float | None, after: float | None) -> str:
    """ "load from 1 kg to 1.5 kg", "add a band at level 1", "without the load (was 0.5 kg)"."""
    band = exercise.load_unit == "band"
    if not before:
        return f"add a band at level {after:g}" if band else f"add a load of {after:g} kg"
    if not after:
        return f"without the band (was level {before:g})" if band else f"without the load (was {before:g} kg)"
    return f"band level {before:g} to {after:g}" if band else f"load from {before:g} kg to {after:g} kg"


def _load(exercise: ExerciseFacts, load: float) -> str:
    return dosing.load_text(exercise.load_unit, load)


def _range(dose: Dose) -> str:
    return f"{dose.dose_low}" if dose.dose_low == dose.dose_high else f"{dose.dose_low}-{dose.dose_high}"


def _day(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"
