"""Assessment classification (apps/assessments/classification.py): plain values in, plain values out.

The tests and thresholds are clinical-reference.md sections 1, 2, 4 and 6.
"""

import re

import pytest

from apps.assessments.classification import (
    LADDER,
    MMT_GRADES,
    RUNG_BY_GRADE,
    AssessmentInput,
    Classification,
    ClassificationError,
    SideFindings,
    classify,
    limb_symmetry,
    mmt_value,
)

STRONG = {"mmt_grade": "5", "knee_hold_seconds": 12}


def assess(left: dict | None = None, right: dict | None = None, **settings) -> Classification:
    """Classify findings given as keyword dicts per side: assess({"mmt_grade": "4"}, STRONG)."""
    return classify(
        AssessmentInput(left=SideFindings("left", **(left or {})), right=SideFindings("right", **(right or {})),
                        **settings)
    )


def both(**findings) -> dict:
    return {"left": findings, "right": findings}


# ---------------------------------------------------------------------------- grades


@pytest.mark.parametrize(
    ("grade", "value"),
    [("0", 0.0), ("1", 1.0), ("2", 2.0), ("3-", 2.67), ("3", 3.0), ("3+", 3.33),
     ("4-", 3.67), ("4", 4.0), ("4+", 4.33), ("5-", 4.67), ("5", 5.0)],
)
def test_a_plus_adds_a_third_of_a_grade_and_a_minus_takes_one_off(grade, value):
    assert mmt_value(grade) == value


def test_the_grades_run_weakest_to_strongest():
    assert [mmt_value(g) for g in MMT_GRADES] == sorted(mmt_value(g) for g in MMT_GRADES)
    assert len(MMT_GRADES) == 11


@pytest.mark.parametrize("grade", ["5+", "0-", "0+", "6", "", "4 ", "2+"])
def test_a_grade_off_the_scale_is_refused(grade):
    with pytest.raises(ClassificationError, match="mmt_grade"):
        mmt_value(grade)


# ---------------------------------------------------------------------------- the label


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ({}, {}, "neither"),
        (STRONG, STRONG, "neither"),
        ({**STRONG, "thomas_iliopsoas": False, "thomas_rectus_femoris": False, "thomas_tfl": False}, STRONG, "neither"),
        ({"mmt_grade": "4"}, STRONG, "weak"),
        ({"mmt_grade": "5-"}, {"mmt_grade": "5"}, "weak"),
        ({"mmt_grade": "5", "knee_hold_seconds": 4}, STRONG, "weak"),
        ({**STRONG, "dynamometry_newtons": [150]}, {**STRONG, "dynamometry_newtons": [200]}, "weak"),
        ({}, {"thomas_rectus_femoris": True}, "tight"),
        (STRONG, {**STRONG, "thomas_tfl": True}, "tight"),
        ({"mmt_grade": "3", "thomas_iliopsoas": True}, {}, "both"),
        ({"knee_hold_seconds": 2}, {"thomas_tfl": True}, "both"),
    ],
)
def test_an_assessment_is_weak_tight_both_or_neither(left, right, label):
    assert assess(left, right).label == label


@pytest.mark.parametrize(
    ("left", "right", "settings", "reasons"),
    [
        ({"mmt_grade": "3+"}, {}, {}, ["Left hip flexion graded 3+/5 (below 5/5)."]),
        ({"mmt_grade": "5"}, {"mmt_grade": "5-"}, {}, ["Right hip flexion graded 5-/5 (below 5/5)."]),
        ({}, {"knee_hold_seconds": 6}, {}, ["Right knee-to-chest hold 6 s: below the 10 s pass mark."]),
        ({"knee_hold_seconds": 7.5}, {}, {"knee_hold_pass_seconds": 15},
         ["Left knee-to-chest hold 7.5 s: below the 15 s pass mark."]),
        ({"dynamometry_newtons": [164, 160]}, {"dynamometry_newtons": [200]}, {},
         ["Limb symmetry index 82 % (weaker left side below 90 %)."]),
        ({}, {"thomas_iliopsoas": True}, {}, ["Thomas test positive for iliopsoas on the right."]),
        ({"thomas_rectus_femoris": True, "thomas_tfl": True}, {}, {},
         ["Thomas test positive for rectus femoris on the left.", "Thomas test positive for TFL on the left."]),
        (
            {"mmt_grade": "4", "knee_hold_seconds": 3, "dynamometry_newtons": [100], "thomas_iliopsoas": True},
            {"mmt_grade": "4+", "knee_hold_seconds": 9.9, "dynamometry_newtons": [125]},
            {},
            [
                "Left hip flexion graded 4/5 (below 5/5).",
                "Right hip flexion graded 4+/5 (below 5/5).",
                "Left knee-to-chest hold 3 s: below the 10 s pass mark.",
                "Right knee-to-chest hold 9.9 s: below the 10 s pass mark.",
                "Limb symmetry index 80 % (weaker left side below 90 %).",
                "Thomas test positive for iliopsoas on the left.",
            ],
        ),
    ],
)
def test_each_reason_names_the_finding_that_drove_it(left, right, settings, reasons):
    assert assess(left, right, **settings).reasons == reasons


@pytest.mark.parametrize(
    ("left", "right", "reason"),
    [
        ({}, {}, "Nothing abnormal was recorded: no strength, hold, dynamometry or Thomas test findings were entered."),
        ({"pain_on_resisted_flexion": True, "aslr": 2}, {}, "Nothing abnormal was recorded: no strength, hold, "
         "dynamometry or Thomas test findings were entered."),
        (STRONG, {"mmt_grade": "5"}, "Nothing abnormal was recorded in the tests done "
         "(hip flexion grade, knee-to-chest hold)."),
        ({**STRONG, "dynamometry_newtons": [200]}, {"thomas_tfl": False, "dynamometry_newtons": [190]},
         "Nothing abnormal was recorded in the tests done (hip flexion grade, knee-to-chest hold, dynamometry, "
         "Thomas test)."),
    ],
)
def test_neither_says_nothing_abnormal_was_recorded_and_in_which_tests(left, right, reason):
    result = assess(left, right)
    assert (result.label, result.reasons) == ("neither", [reason])


# ---------------------------------------------------------------------------- painless weakness


@pytest.mark.parametrize(
    ("grade", "painful", "warned"),
    [
        ("3+", False, True),
        ("0", False, True),
        ("5-", False, True),
        ("3+", True, False),
        ("3+", None, False),  # pain not asked: nothing to warn about
        ("5", False, False),  # painless and strong is normal
        (None, False, False),
    ],
)
def test_painless_weakness_is_a_warning_sign(grade, painful, warned):
    result = assess({"mmt_grade": grade, "pain_on_resisted_flexion": painful}, STRONG)
    assert len(result.warnings) == (1 if warned else 0)


def test_the_painless_weakness_warning_names_the_side_and_the_causes_to_rule_out():
    (warning,) = assess(STRONG, {"mmt_grade": "4-", "pain_on_resisted_flexion": False}).warnings
    assert warning.startswith("Painless weakness on the right side (graded 4-/5")
    for cause in ("L2 nerve root", "femoral nerve", "abdominal mass", "referral"):
        assert cause in warning


def test_painless_weakness_on_both_sides_gives_a_warning_for_each():
    result = assess(**both(mmt_grade="4", pain_on_resisted_flexion=False))
    assert [w.split(" (")[0] for w in result.warnings] == [
        "Painless weakness on the left side", "Painless weakness on the right side",
    ]


# ---------------------------------------------------------------------------- dynamometry and holds


@pytest.mark.parametrize(
    ("left", "right", "lsi", "weaker"),
    [
        (200.0, 160.0, 80.0, "right"),
        (160.0, 200.0, 80.0, "left"),
        (150.0, 150.0, 100.0, None),
        (200.0, 180.0, 90.0, "right"),
        (300.0, 200.0, 66.7, "right"),
        (1000.0, 899.5, 90.0, "right"),  # 89.95 rounds half up to 90.0
        (1000.0, 899.4, 89.9, "right"),
        (0.0, 100.0, 0.0, "left"),
        (0.0, 0.0, None, None),
        (None, 100.0, None, None),
        (100.0, None, None, None),
    ],
)
def test_the_limb_symmetry_index_is_the_weaker_best_over_the_stronger_best(left, right, lsi, weaker):
    assert limb_symmetry(left, right) == (lsi, weaker)


@pytest.mark.parametrize(
    ("left_trials", "right_trials", "settings", "lsi", "flagged"),
    [
        ([180, 200, 190], [150, 160], {}, 80.0, True),
        ([200], [180], {}, 90.0, False),  # at the cut-off: not below it
        ([200], [179.8], {}, 89.9, True),  # one tenth below
        ([1000], [899.5], {}, 90.0, False),  # shown as 90 %: not reported as below 90 %
        ([200], [172], {"lsi_deficit_below": 85}, 86.0, False),
        ([200], [168], {"lsi_deficit_below": 85}, 84.0, True),
        ([200], [], {}, None, False),
        ([], [], {}, None, False),
    ],
)
def test_a_symmetry_index_below_the_cut_off_is_a_deficit(left_trials, right_trials, settings, lsi, flagged):
    result = assess({"dynamometry_newtons": left_trials}, {"dynamometry_newtons": right_trials}, **settings)
    assert result.lsi == lsi
    assert any(r.startswith("Limb symmetry index") for r in result.reasons) is flagged


@pytest.mark.parametrize(
    ("left_trials", "right_trials", "best"),
    [
        ([180, 200, 190], [150], {"left": 200.0, "right": 150.0}),
        ([], [120.5, 99], {"left": None, "right": 120.5}),
        ([], [], {"left": None, "right": None}),
    ],
)
def test_the_best_of_up_to_three_trials_counts(left_trials, right_trials, best):
    assert assess({"dynamometry_newtons": left_trials}, {"dynamometry_newtons": right_trials}).best_newtons == best


@pytest.mark.parametrize(
    ("seconds", "pass_mark", "passed"),
    [
        (10, 10.0, True),
        (9.9, 10.0, False),
        (0, 10.0, False),
        (30, 10.0, True),
        (12, 15, False),
        (15, 15, True),
        (None, 10.0, None),
    ],
)
def test_the_knee_to_chest_hold_passes_at_the_pass_mark(seconds, pass_mark, passed):
    result = assess({"knee_hold_seconds": seconds}, {}, knee_hold_pass_seconds=pass_mark)
    assert result.knee_hold_pass == {"left": passed, "right": None}


# ---------------------------------------------------------------------------- suggested rung


@pytest.mark.parametrize(("grade", "rung"), list(RUNG_BY_GRADE.items()))
def test_the_starting_rung_follows_the_grade_table(grade, rung):
    assert assess(**both(mmt_grade=grade)).suggested_rung == rung


def test_the_grade_table_covers_every_grade_and_stays_on_the_ladder():
    assert set(RUNG_BY_GRADE) == set(MMT_GRADES)
    assert set(RUNG_BY_GRADE.values()) <= set(LADDER)
    assert list(RUNG_BY_GRADE.values()) == sorted(RUNG_BY_GRADE.values())  # never lower for a stronger grade


@pytest.mark.parametrize(
    ("left", "right", "settings", "rung"),
    [
        ({"mmt_grade": "4+"}, {"mmt_grade": "3-"}, {}, 2),  # the weaker side decides
        ({"mmt_grade": "5"}, {"mmt_grade": "4-"}, {}, 4),
        ({"mmt_grade": "4"}, {}, {}, 5),  # only one side graded
        ({}, {}, {}, None),
        ({"knee_hold_seconds": 20}, {"knee_hold_seconds": 20}, {}, None),
        # 5/5 starts at 8 only with both holds passed and symmetry at or above the cut-off (or no dynamometry).
        (STRONG, STRONG, {}, 8),
        ({**STRONG, "dynamometry_newtons": [200]}, {**STRONG, "dynamometry_newtons": [180]}, {}, 8),
        ({**STRONG, "dynamometry_newtons": [200]}, {**STRONG, "dynamometry_newtons": [178]}, {}, 7),
        ({**STRONG, "dynamometry_newtons": [200]}, {**STRONG, "dynamometry_newtons": [172]},
         {"lsi_deficit_below": 85}, 8),
        ({**STRONG, "dynamometry_newtons": [200]}, STRONG, {}, 8),  # one side's trials only: no index
        ({**STRONG, "knee_hold_seconds": 9}, STRONG, {}, 7),
        ({"mmt_grade": "5"}, STRONG, {}, 7),  # hold not recorded
        (STRONG, {"knee_hold_seconds": 12}, {}, 7),  # one side not graded
        ({**STRONG, "mmt_grade": "5-"}, STRONG, {}, 7),
        (STRONG, STRONG, {"knee_hold_pass_seconds": 15}, 7),
    ],
)
def test_the_starting_rung_comes_from_the_weaker_side(left, right, settings, rung):
    assert assess(left, right, **settings).suggested_rung == rung


@pytest.mark.parametrize(
    ("left", "right", "settings", "rung_reasons"),
    [
        ({"mmt_grade": "4+"}, {"mmt_grade": "3-"}, {},
         ["The weaker side (right) graded 3-/5: rung 2 (supine heel slide)."]),
        ({"mmt_grade": "4"}, {"mmt_grade": "4"}, {},
         ["Both sides graded 4/5: rung 5 (seated hip flexion with ankle weights)."]),
        ({"mmt_grade": "3"}, {}, {}, ["The left side (the only side graded) graded 3/5: rung 2 (supine heel slide)."]),
        ({}, {}, {}, ["No hip flexion grade recorded: no starting rung suggested."]),
        (STRONG, STRONG, {}, [
            "Both sides graded 5/5: rung 7 (band hip flexion and diagonal steps).",
            "5/5 both sides, both knee-to-chest holds passed, no dynamometry to compare: "
            "rung 8 (lunge and skater squat).",
        ]),
        ({**STRONG, "dynamometry_newtons": [200]}, {**STRONG, "dynamometry_newtons": [190]}, {}, [
            "Both sides graded 5/5: rung 7 (band hip flexion and diagonal steps).",
            "5/5 both sides, both knee-to-chest holds passed, limb symmetry 95 % (at least 90 %): "
            "rung 8 (lunge and skater squat).",
        ]),
        ({**STRONG, "knee_hold_seconds": 5}, STRONG, {}, [
            "Both sides graded 5/5: rung 7 (band hip flexion and diagonal steps).",
            "Not started higher than rung 7: the knee-to-chest hold is not recorded as passed on both sides.",
        ]),
        ({**STRONG, "dynamometry_newtons": [200]}, {**STRONG, "dynamometry_newtons": [160]}, {}, [
            "Both sides graded 5/5: rung 7 (band hip flexion and diagonal steps).",
            "Not started higher than rung 7: limb symmetry 80 % is below 90 %.",
        ]),
    ],
)
def test_the_rung_reasons_say_how_the_rung_was_reached(left, right, settings, rung_reasons):
    assert assess(left, right, **settings).rung_reasons == rung_reasons


# Section 6: lateral transpsoas surgery within 6 weeks and no surgeon clearance: unloaded work only (rung 4 at most).
@pytest.mark.parametrize(
    ("grades", "weeks", "clearance", "rung", "capped"),
    [
        ("4+", 3, False, 4, True),  # rung 6 capped at 4
        ("4", 5.9, False, 4, True),  # rung 5 capped at 4
        ("4-", 3, False, 4, False),  # already at 4: restriction noted, nothing capped
        ("3-", 3, False, 2, False),
        ("4+", 6, False, 6, None),  # 6 weeks on: no cap
        ("4+", 12, False, 6, None),
        ("4+", 3, True, 6, None),  # surgeon clearance recorded
        ("4+", None, False, 4, True),  # no surgery date: cautious
    ],
)
def test_transpsoas_surgery_without_clearance_caps_the_rung_for_six_weeks(grades, weeks, clearance, rung, capped):
    result = assess(**both(mmt_grade=grades), referral_cause="transpsoas_surgery", weeks_since_surgery=weeks,
                    surgeon_clearance=clearance)
    assert result.suggested_rung == rung
    cautions = [r for r in result.rung_reasons if r.startswith("Lateral transpsoas surgery")]
    if capped is None:
        assert cautions == []
    else:
        (caution,) = cautions
        assert "unloaded work only" in caution
        assert ("capped at 4" in caution) is capped


def test_a_strong_patient_after_transpsoas_surgery_is_still_capped():
    result = assess(STRONG, STRONG, referral_cause="transpsoas_surgery", weeks_since_surgery=2)
    assert result.suggested_rung == 4
    assert result.rung_reasons[-1] == (
        "Lateral transpsoas surgery 2 weeks ago and no surgeon clearance recorded: unloaded work only "
        "(rungs 1-4, no band or weights) until 6 weeks after surgery or clearance: rung 8 capped at 4 (standing march)."
    )


def test_the_transpsoas_cap_does_not_apply_to_other_causes():
    result = assess(**both(mmt_grade="4+"), referral_cause="hip_osteoarthritis", weeks_since_surgery=1)
    assert result.suggested_rung == 6


# Section 6: cerebral palsy prefers knee-flexed, iliopsoas-biased work: the straight leg raise is skipped.
@pytest.mark.parametrize(
    ("grade", "cause", "rung", "skipped"),
    [
        ("3+", "cerebral_palsy", 2, True),
        ("3", "cerebral_palsy", 2, False),
        ("4-", "cerebral_palsy", 4, False),
        ("3+", "other", 3, False),
        ("3+", None, 3, False),
    ],
)
def test_cerebral_palsy_skips_the_straight_leg_raise(grade, cause, rung, skipped):
    result = assess(**both(mmt_grade=grade), referral_cause=cause)
    assert result.suggested_rung == rung
    assert any(r.startswith("Cerebral palsy") for r in result.rung_reasons) is skipped


def test_the_cerebral_palsy_reason_says_why_the_rung_is_skipped():
    result = assess(**both(mmt_grade="3+"), referral_cause="cerebral_palsy")
    assert result.rung_reasons[-1] == (
        "Cerebral palsy: knee-flexed, iliopsoas-biased work preferred, so rung 3 (straight leg raise, rectus femoris "
        "biased) is skipped: rung 2 (supine heel slide)."
    )


# ---------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SideFindings("left", mmt_grade="5+"), "left.mmt_grade: '5+' is not a grade"),
        (lambda: SideFindings("right", mmt_grade="0-"), "right.mmt_grade: '0-' is not a grade"),
        (lambda: SideFindings("left", mmt_grade=4), "left.mmt_grade: 4 is not a grade"),
        (lambda: SideFindings("up"), "side: 'up' is not left or right"),
        (lambda: SideFindings("left", knee_hold_seconds=-1), "left.knee_hold_seconds: -1 is negative"),
        (lambda: SideFindings("left", knee_hold_seconds="10"), "left.knee_hold_seconds: '10' is not a number"),
        (lambda: SideFindings("left", knee_hold_seconds=float("inf")), "left.knee_hold_seconds: inf is not a finite"),
        (lambda: SideFindings("right", dynamometry_newtons=[100, -5]), "right.dynamometry_newtons[1]: -5 is negative"),
        (lambda: SideFindings("right", dynamometry_newtons=[100, 110, 120, 130]),
         "right.dynamometry_newtons: 4 trials given, at most 3"),
        (lambda: SideFindings("right", dynamometry_newtons=150), "right.dynamometry_newtons: expected a list"),
        (lambda: SideFindings("left", aslr=6), "left.aslr: 6 is outside 0-5"),
        (lambda: SideFindings("left", aslr=-1), "left.aslr: -1 is outside 0-5"),
        (lambda: SideFindings("left", aslr=2.5), "left.aslr: 2.5 is outside 0-5"),
        (lambda: SideFindings("left", thomas_tfl="yes"), "left.thomas_tfl: 'yes' is not yes, no or not recorded"),
        (lambda: SideFindings("left", pain_on_resisted_flexion=1), "left.pain_on_resisted_flexion: 1 is not yes"),
        (lambda: AssessmentInput(SideFindings("right"), SideFindings("right")),
         "left.side: the left findings are marked 'right'"),
        (lambda: AssessmentInput(SideFindings("left"), None), "right: expected SideFindings, got NoneType"),
        (lambda: AssessmentInput(SideFindings("left"), SideFindings("right"), knee_hold_pass_seconds=0),
         "knee_hold_pass_seconds: must be more than 0"),
        (lambda: AssessmentInput(SideFindings("left"), SideFindings("right"), lsi_deficit_below=120),
         "lsi_deficit_below: 120 is outside 0-100 %"),
        (lambda: AssessmentInput(SideFindings("left"), SideFindings("right"), weeks_since_surgery=-2),
         "weeks_since_surgery: -2 is negative"),
        (lambda: AssessmentInput(SideFindings("left"), SideFindings("right"), referral_cause="transpsoas"),
         "referral_cause: 'transpsoas' is not one of"),
        (lambda: AssessmentInput(SideFindings("left"), SideFindings("right"), surgeon_clearance="no"),
         "surgeon_clearance: 'no' is not True or False"),
    ],
)
def test_findings_that_cannot_be_right_are_refused_naming_the_field(build, message):
    with pytest.raises(ClassificationError, match=re.escape(message)):
        build()


def test_classification_errors_are_value_errors():
    assert issubclass(ClassificationError, ValueError)
