"""Classify an assessment as weak / tight / both / neither, and suggest a starting rung.

Pure logic over plain values (no Django): ``services.py`` builds an ``AssessmentInput``
from the stored side findings and stores what ``classify()`` returns. The tests and
thresholds are those of the project's clinical reference (``clinical-reference.md``):

* section 1: weak is not tight; both can coexist, so both are looked for;
* section 2: manual muscle test grade, knee-to-chest hold, dynamometry and its limb
  symmetry index, Thomas test; painless weakness is a warning sign;
* section 4: the exercise ladder a starting rung is suggested on;
* section 6: the safety caps for lateral transpsoas surgery and cerebral palsy.

Every input is checked when the dataclass is built: a bad value raises
``ClassificationError`` naming the field (``left.mmt_grade``, ``weeks_since_surgery``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from apps.patients.vocabulary import REFERRAL_CAUSES

Side = Literal["left", "right"]
Label = Literal["weak", "tight", "both", "neither"]
SIDES: tuple[Side, Side] = ("left", "right")


class ClassificationError(ValueError):
    """Findings that cannot be classified as given: the message names the field."""


# ---------------------------------------------------------------------------- constants

# Section 2: MRC/Oxford grades 0-5 with optional +/- modifiers. No "5+" (5 is normal)
# and no modifier on 0 (nothing to modify); the modifiers we take are those the
# assessment form offers, i.e. on 3, 4 and 5 only.
MMT_GRADES: tuple[str, ...] = ("0", "1", "2", "3-", "3", "3+", "4-", "4", "4+", "5-", "5")
MMT_MODIFIER = 0.33  # "+" adds a third of a grade, "-" takes one off (section 2, "+/- modifiers")
NORMAL_GRADE = "5"

# Section 2: the knee-to-chest hold passes at this many seconds (clinic-set, *unverified*).
DEFAULT_KNEE_HOLD_PASS_SECONDS = 10.0
# Section 2: a limb symmetry index below this flags a deficit (Thorborg 2010; borrowed
# from return-to-sport work, *unverified for hip flexors*).
DEFAULT_LSI_DEFICIT_BELOW = 90.0
MAX_DYNAMOMETRY_TRIALS = 3  # section 2: best of 3 trials
ASLR_MIN, ASLR_MAX = 0, 5  # section 2: active straight leg raise, 0-5 per side (Mens 2001)

THOMAS_COMPONENTS: dict[str, str] = {  # section 2: what each positive Thomas test component means
    "thomas_iliopsoas": "iliopsoas",
    "thomas_rectus_femoris": "rectus femoris",
    "thomas_tfl": "TFL",
}


# Section 4: the ladder, easiest first, in our words.
LADDER: dict[int, str] = {
    1: "seated knee raise",
    2: "supine heel slide",
    3: "straight leg raise",
    4: "standing march",
    5: "seated hip flexion with ankle weights",
    6: "wall psoas hold",
    7: "band hip flexion and diagonal steps",
    8: "lunge and skater squat",
    9: "mountain climbers on sliders",
    10: "hanging knee raise and pike",
}

# Starting rung by the weaker side's grade. Clinic-editable default: section 4 orders the
# ladder but does not map grades to rungs; this table is our clinical convention.
RUNG_BY_GRADE: dict[str, int] = {
    "0": 1, "1": 1, "2": 1,
    "3-": 2, "3": 2,
    "3+": 3,
    "4-": 4,
    "4": 5,
    "4+": 6,
    "5-": 7,
    "5": 7,
}
# 5/5 both sides, both knee-to-chest holds passed and the LSI at or above the cut-off
# (or no LSI) starts one rung up. Clinic-editable default, as above.
RUNG_WHEN_STRONG = 8

# Section 6, lateral transpsoas surgery (Cahill 2011): no resisted or loaded work within
# 6 weeks of the surgery without documented surgeon clearance (clinic-editable). Rungs 1-4
# need no load (rung 4's mini-band is optional and is left off).
TRANSPSOAS_CAUTION_WEEKS = 6
TRANSPSOAS_MAX_RUNG = 4
# Section 6, cerebral palsy: prefer knee-flexed, iliopsoas-biased work, so the straight leg
# raise (rectus femoris biased) gives way to the rung below it.
CEREBRAL_PALSY_SKIPPED_RUNG = 3


def mmt_value(grade: str) -> float:
    """A grade as a number for comparing: "3+" is 3.33, "4-" is 3.67."""
    if grade not in MMT_GRADES:
        raise ClassificationError(f"mmt_grade: {grade!r} is not a grade (use one of {', '.join(MMT_GRADES)})")
    base = float(grade[0])
    modifier = {"+": MMT_MODIFIER, "-": -MMT_MODIFIER}.get(grade[1:], 0.0)
    return round(base + modifier, 2)


# ---------------------------------------------------------------------------- input


@dataclass(frozen=True)
class SideFindings:
    """The section 2 tests of one side; None (or no trials) where a test was not done."""

    side: Side
    mmt_grade: str | None = None
    knee_hold_seconds: float | None = None
    dynamometry_newtons: Sequence[float] = ()
    pain_on_resisted_flexion: bool | None = None
    thomas_iliopsoas: bool | None = None
    thomas_rectus_femoris: bool | None = None
    thomas_tfl: bool | None = None
    aslr: int | None = None

    def __post_init__(self):
        if self.side not in SIDES:
            raise ClassificationError(f"side: {self.side!r} is not left or right")
        if self.mmt_grade is not None and self.mmt_grade not in MMT_GRADES:
            raise ClassificationError(
                f"{self.side}.mmt_grade: {self.mmt_grade!r} is not a grade (use one of {', '.join(MMT_GRADES)})"
            )
        if self.knee_hold_seconds is not None:
            object.__setattr__(self, "knee_hold_seconds", _non_negative(self.knee_hold_seconds,
                                                                        f"{self.side}.knee_hold_seconds"))
        trials = self.dynamometry_newtons
        if isinstance(trials, str | bytes) or not isinstance(trials, Sequence):
            raise ClassificationError(f"{self.side}.dynamometry_newtons: expected a list of trials, got {trials!r}")
        if len(trials) > MAX_DYNAMOMETRY_TRIALS:
            raise ClassificationError(
                f"{self.side}.dynamometry_newtons: {len(trials)} trials given, at most {MAX_DYNAMOMETRY_TRIALS}"
            )
        object.__setattr__(self, "dynamometry_newtons", tuple(
            _non_negative(trial, f"{self.side}.dynamometry_newtons[{number}]") for number, trial in enumerate(trials)
        ))
        for name in ("pain_on_resisted_flexion", *THOMAS_COMPONENTS):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ClassificationError(f"{self.side}.{name}: {value!r} is not yes, no or not recorded")
        if self.aslr is not None and (
            isinstance(self.aslr, bool) or not isinstance(self.aslr, int) or not ASLR_MIN <= self.aslr <= ASLR_MAX
        ):
            raise ClassificationError(f"{self.side}.aslr: {self.aslr!r} is outside {ASLR_MIN}-{ASLR_MAX}")

    @property
    def best_newtons(self) -> float | None:
        return max(self.dynamometry_newtons, default=None)


@dataclass(frozen=True)
class AssessmentInput:
    """Both sides' findings, the clinic's thresholds and what section 6 needs from the referral."""

    left: SideFindings
    right: SideFindings
    knee_hold_pass_seconds: float = DEFAULT_KNEE_HOLD_PASS_SECONDS
    lsi_deficit_below: float = DEFAULT_LSI_DEFICIT_BELOW
    referral_cause: str | None = None
    weeks_since_surgery: float | None = None
    surgeon_clearance: bool = False

    def __post_init__(self):
        for side in SIDES:
            findings = getattr(self, side)
            if not isinstance(findings, SideFindings):
                raise ClassificationError(f"{side}: expected SideFindings, got {type(findings).__name__}")
            if findings.side != side:
                raise ClassificationError(f"{side}.side: the {side} findings are marked {findings.side!r}")
        pass_mark = _non_negative(self.knee_hold_pass_seconds, "knee_hold_pass_seconds")
        if pass_mark == 0:
            raise ClassificationError("knee_hold_pass_seconds: must be more than 0")
        object.__setattr__(self, "knee_hold_pass_seconds", pass_mark)
        cut_off = _non_negative(self.lsi_deficit_below, "lsi_deficit_below")
        if not 0 < cut_off <= 100:
            raise ClassificationError(f"lsi_deficit_below: {cut_off:g} is outside 0-100 %")
        object.__setattr__(self, "lsi_deficit_below", cut_off)
        if self.referral_cause is not None and self.referral_cause not in REFERRAL_CAUSES:
            raise ClassificationError(
                f"referral_cause: {self.referral_cause!r} is not one of {', '.join(REFERRAL_CAUSES)}"
            )
        if self.weeks_since_surgery is not None:
            object.__setattr__(self, "weeks_since_surgery", _non_negative(self.weeks_since_surgery,
                                                                          "weeks_since_surgery"))
        if not isinstance(self.surgeon_clearance, bool):
            raise ClassificationError(f"surgeon_clearance: {self.surgeon_clearance!r} is not True or False")

    def side(self, name: Side) -> SideFindings:
        return self.left if name == "left" else self.right


def _non_negative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ClassificationError(f"{name}: {value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ClassificationError(f"{name}: {value} is not a finite number")
    if number < 0:
        raise ClassificationError(f"{name}: {value} is negative")
    return number


# ---------------------------------------------------------------------------- output


@dataclass(frozen=True)
class Classification:
    label: Label
    reasons: list[str]
    warnings: list[str]
    lsi: float | None
    best_newtons: dict[Side, float | None]
    knee_hold_pass: dict[Side, bool | None]
    suggested_rung: int | None
    rung_reasons: list[str] = field(default_factory=list)


def classify(findings: AssessmentInput) -> Classification:
    """Weak / tight / both / neither with the findings that drove it, warnings and a starting rung."""
    best = {side: findings.side(side).best_newtons for side in SIDES}
    holds = {side: _hold_passed(findings.side(side), findings.knee_hold_pass_seconds) for side in SIDES}
    lsi, weaker_by_newtons = limb_symmetry(best["left"], best["right"])

    weak_reasons = _weakness_reasons(findings, holds, lsi, weaker_by_newtons)
    tight_reasons = _tightness_reasons(findings)
    weak, tight = bool(weak_reasons), bool(tight_reasons)
    label: Label = "both" if weak and tight else "weak" if weak else "tight" if tight else "neither"
    reasons = (weak_reasons + tight_reasons) or [_nothing_abnormal(findings)]

    rung, rung_reasons = suggested_rung(findings, holds, lsi)
    return Classification(
        label=label, reasons=reasons, warnings=_painless_weakness_warnings(findings), lsi=lsi,
        best_newtons=best, knee_hold_pass=holds, suggested_rung=rung, rung_reasons=rung_reasons,
    )


def limb_symmetry(left: float | None, right: float | None) -> tuple[float | None, Side | None]:
    """(weaker best / stronger best x 100 to 1 decimal, the weaker side); (None, None) without both sides.

    Both sides at 0 N give no index: there is no stronger side to compare with. Equal
    sides give 100 and no weaker side.
    """
    if left is None or right is None or max(left, right) == 0:
        return None, None
    weaker: Side | None = "left" if left < right else "right" if right < left else None
    index = Decimal(str(min(left, right))) / Decimal(str(max(left, right))) * 100
    return float(index.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)), weaker


def suggested_rung(
    findings: AssessmentInput, holds: dict[Side, bool | None], lsi: float | None
) -> tuple[int | None, list[str]]:
    """The starting rung on the section 4 ladder, from the weaker side's grade, with the section 6 caps."""
    graded = [(side, findings.side(side).mmt_grade) for side in SIDES if findings.side(side).mmt_grade is not None]
    if not graded:
        return None, ["No hip flexion grade recorded: no starting rung suggested."]
    weakest = min(mmt_value(grade) for _side, grade in graded)
    weaker = [side for side, grade in graded if mmt_value(grade) == weakest]
    grade = next(grade for _side, grade in graded if mmt_value(grade) == weakest)
    rung = RUNG_BY_GRADE[grade]
    who = "Both sides" if len(weaker) == 2 else f"The weaker side ({weaker[0]})" if len(graded) == 2 else (
        f"The {weaker[0]} side (the only side graded)")
    reasons = [f"{who} graded {grade}/5: rung {rung} ({LADDER[rung]})."]

    if grade == NORMAL_GRADE:
        missing = _strong_enough_for_more(findings, graded, holds, lsi)
        if missing:
            reasons.append(f"Not started higher than rung {rung}: {missing}.")
        else:
            rung = RUNG_WHEN_STRONG
            symmetry = "no dynamometry to compare" if lsi is None else (
                f"limb symmetry {_number(lsi)} % (at least {_number(findings.lsi_deficit_below)} %)")
            reasons.append(
                f"5/5 both sides, both knee-to-chest holds passed, {symmetry}: rung {rung} ({LADDER[rung]})."
            )

    if findings.referral_cause == "transpsoas_surgery" and not findings.surgeon_clearance:
        weeks = findings.weeks_since_surgery
        if weeks is None or weeks < TRANSPSOAS_CAUTION_WEEKS:
            when = "with no surgery date recorded" if weeks is None else f"{_number(weeks)} weeks ago"
            why = (f"Lateral transpsoas surgery {when} and no surgeon clearance recorded: "
                   f"unloaded work only (rungs 1-{TRANSPSOAS_MAX_RUNG}, no band or weights)")
            if weeks is None:
                why += " until the surgery date or clearance is recorded"
            else:
                why += f" until {TRANSPSOAS_CAUTION_WEEKS} weeks after surgery or clearance"
            if rung > TRANSPSOAS_MAX_RUNG:
                reasons.append(f"{why}: rung {rung} capped at {TRANSPSOAS_MAX_RUNG} ({LADDER[TRANSPSOAS_MAX_RUNG]}).")
                rung = TRANSPSOAS_MAX_RUNG
            else:
                reasons.append(f"{why}.")
    if findings.referral_cause == "cerebral_palsy" and rung == CEREBRAL_PALSY_SKIPPED_RUNG:
        rung = CEREBRAL_PALSY_SKIPPED_RUNG - 1
        reasons.append(
            f"Cerebral palsy: knee-flexed, iliopsoas-biased work preferred, so rung {CEREBRAL_PALSY_SKIPPED_RUNG} "
            f"({LADDER[CEREBRAL_PALSY_SKIPPED_RUNG]}, rectus femoris biased) is skipped: rung {rung} ({LADDER[rung]})."
        )
    return rung, reasons


# ---------------------------------------------------------------------------- the rules, one finding each


def _hold_passed(side: SideFindings, pass_mark: float) -> bool | None:
    return None if side.knee_hold_seconds is None else side.knee_hold_seconds >= pass_mark


def _weakness_reasons(
    findings: AssessmentInput, holds: dict[Side, bool | None], lsi: float | None, weaker: Side | None
) -> list[str]:
    reasons = []
    for name in SIDES:
        side = findings.side(name)
        if side.mmt_grade is not None and side.mmt_grade != NORMAL_GRADE:
            reasons.append(f"{name.capitalize()} hip flexion graded {side.mmt_grade}/5 (below 5/5).")
    for name in SIDES:
        if holds[name] is False:
            reasons.append(
                f"{name.capitalize()} knee-to-chest hold {_number(findings.side(name).knee_hold_seconds)} s: "
                f"below the {_number(findings.knee_hold_pass_seconds)} s pass mark."
            )
    # Compared as shown (1 decimal), so "90 %" is never reported as below 90 %.
    if lsi is not None and lsi < findings.lsi_deficit_below:
        cut_off = _number(findings.lsi_deficit_below)
        reasons.append(f"Limb symmetry index {_number(lsi)} % (weaker {weaker} side below {cut_off} %).")
    return reasons


def _tightness_reasons(findings: AssessmentInput) -> list[str]:
    return [
        f"Thomas test positive for {muscle} on the {name}."
        for name in SIDES
        for attribute, muscle in THOMAS_COMPONENTS.items()
        if getattr(findings.side(name), attribute) is True
    ]


def _painless_weakness_warnings(findings: AssessmentInput) -> list[str]:
    # Section 2: weakness without pain on resisted hip flexion is itself a warning sign.
    warnings = []
    for name in SIDES:
        side = findings.side(name)
        if side.mmt_grade not in (None, NORMAL_GRADE) and side.pain_on_resisted_flexion is False:
            warnings.append(
                f"Painless weakness on the {name} side (graded {side.mmt_grade}/5, no pain on resisted hip flexion): "
                "it can come from an L2 nerve root problem, a femoral nerve lesion or an abdominal mass. "
                "Consider referral for medical review before prescribing."
            )
    return warnings


def _nothing_abnormal(findings: AssessmentInput) -> str:
    tests = {
        "hip flexion grade": "mmt_grade",
        "knee-to-chest hold": "knee_hold_seconds",
        "dynamometry": "dynamometry_newtons",
        "Thomas test": tuple(THOMAS_COMPONENTS),
    }
    done = [
        test for test, attributes in tests.items()
        if any(
            getattr(findings.side(name), attribute) not in (None, ())
            for name in SIDES
            for attribute in ((attributes,) if isinstance(attributes, str) else attributes)
        )
    ]
    if not done:
        return "Nothing abnormal was recorded: no strength, hold, dynamometry or Thomas test findings were entered."
    return f"Nothing abnormal was recorded in the tests done ({', '.join(done)})."


def _strong_enough_for_more(
    findings: AssessmentInput, graded: list[tuple[Side, str]], holds: dict[Side, bool | None], lsi: float | None
) -> str:
    """Why a 5/5 patient does not start at ``RUNG_WHEN_STRONG`` ("" when nothing stands in the way)."""
    if len(graded) < 2:
        return "only one side graded"
    if not all(holds[side] for side in SIDES):
        return "the knee-to-chest hold is not recorded as passed on both sides"
    if lsi is not None and lsi < findings.lsi_deficit_below:
        return f"limb symmetry {_number(lsi)} % is below {_number(findings.lsi_deficit_below)} %"
    return ""


def _number(value: float | None) -> str:
    """6.0 as "6", 6.5 as "6.5": numbers as a therapist writes them."""
    return f"{value:g}"
