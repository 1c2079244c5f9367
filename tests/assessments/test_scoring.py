"""Outcome-measure scoring (apps/assessments/scoring): plain values in, plain values out, no database.

The rules are clinical-reference.md section 3.
"""

import re

import pytest

from apps.assessments.scoring import MEASURES, Measure, Score, ScoringError, info, lefs, nprs, odi, psfs, score
from apps.assessments.scoring.change import MCID, Change, change, threshold_text

ALL_FOUR = [4] * 20


def lefs_with(**answers) -> list:
    """20 LEFS items, all 4, with some replaced: lefs_with(item_7=None)."""
    items = list(ALL_FOUR)
    for key, value in answers.items():
        items[int(key.removeprefix("item_")) - 1] = value
    return items


# ---------------------------------------------------------------------------- NPRS


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([0], Score(0.0, complete=True, answered=1, expected=1, missing=0)),
        ([7], Score(7.0, complete=True, answered=1, expected=1, missing=0)),
        ([10], Score(10.0, complete=True, answered=1, expected=1, missing=0)),
        ([7.0], Score(7.0, complete=True, answered=1, expected=1, missing=0)),  # a whole number from JSON
        ([None], Score(None, complete=False, answered=0, expected=1, missing=1, note="Pain not rated: no score")),
    ],
)
def test_the_pain_score_is_the_one_item(items, expected):
    assert nprs.score(items) == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([11], "item 1: 11 is outside 0-10"),
        ([-1], "item 1: -1 is outside 0-10"),
        ([3.5], "item 1: 3.5 is not a whole number"),
        (["3"], "item 1: '3' is not a whole number"),
        ([True], "item 1: True is not a whole number"),
        ([3, 4], "items: too many items: expected 1, got 2"),
        ([], "items: too few items: expected 1, got 0"),
        (3, "items: expected a list of 1 items, got int"),
    ],
)
def test_a_pain_score_that_cannot_be_right_is_refused_naming_the_item(items, message):
    with pytest.raises(ScoringError, match=re.escape(message)):
        nprs.score(items)


# ---------------------------------------------------------------------------- LEFS


@pytest.mark.parametrize(
    ("items", "value"),
    [
        ([0] * 20, 0.0),
        ([4] * 20, 80.0),
        ([1, 2, 3, 4] * 5, 50.0),
        (lefs_with(item_1=0, item_20=3), 75.0),
        ([4.0] * 20, 80.0),
    ],
)
def test_the_lefs_total_is_the_sum_of_all_twenty_items(items, value):
    assert lefs.score(items) == Score(value, complete=True, answered=20, expected=20, missing=0)


@pytest.mark.parametrize(
    ("items", "answered", "note"),
    [
        (lefs_with(item_20=None), 19, "1 of 20 items missing: no total"),
        (lefs_with(item_1=None, item_2=None, item_3=None), 17, "3 of 20 items missing: no total"),
        ([None] * 20, 0, "20 of 20 items missing: no total"),
    ],
)
def test_a_lefs_with_any_item_missing_has_no_total(items, answered, note):
    assert lefs.score(items) == Score(
        None, complete=False, answered=answered, expected=20, missing=20 - answered, note=note
    )


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (lefs_with(item_7=5), "item 7: 5 is outside 0-4"),
        (lefs_with(item_12=-1), "item 12: -1 is outside 0-4"),
        (lefs_with(item_3=2.5), "item 3: 2.5 is not a whole number"),
        (lefs_with(item_20="4"), "item 20: '4' is not a whole number"),
        ([4] * 21, "items: too many items: expected 20, got 21"),
        ([4] * 19, "items: too few items: expected 20, got 19"),
        ("4" * 20, "items: expected a list of 20 items, got str"),
    ],
)
def test_a_lefs_item_that_cannot_be_right_is_refused_naming_the_item(items, message):
    with pytest.raises(ScoringError, match=re.escape(message)):
        lefs.score(items)


def test_the_lefs_ships_a_short_label_of_our_own_for_each_item_and_answer():
    assert len(lefs.ITEM_LABELS) == lefs.ITEM_COUNT == 20
    assert len(set(lefs.ITEM_LABELS)) == 20
    assert all(0 < len(label) <= 40 for label in lefs.ITEM_LABELS)
    assert sorted(lefs.SCALE_LABELS) == [0, 1, 2, 3, 4]
    assert lefs.SCALE_LABELS[4] == "No trouble"


# ---------------------------------------------------------------------------- ODI


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([0] * 10, Score(0.0, complete=True, answered=10, expected=10, missing=0)),
        ([5] * 10, Score(100.0, complete=True, answered=10, expected=10, missing=0)),
        ([2, 3, 2, 3, 2, 3, 2, 3, 2, 1], Score(46.0, complete=True, answered=10, expected=10, missing=0)),
        # One section missing: scored over 45; 20/45 = 44.44 %.
        (
            [2, 2, 2, 2, 2, 2, 2, 2, 4, None],
            Score(44.4, complete=False, answered=9, expected=10, missing=1,
                  note="1 of 10 sections missing: scored over the 9 sections answered"),
        ),
        # Two missing, at the minimum: scored over 40; 20/40 = 50 %.
        (
            [None, 2, 2, 2, 2, 2, 2, 4, 4, None],
            Score(50.0, complete=False, answered=8, expected=10, missing=2,
                  note="2 of 10 sections missing: scored over the 8 sections answered"),
        ),
        # Three missing, one below the minimum: no score.
        (
            [None, None, None, 2, 2, 2, 2, 2, 2, 2],
            Score(None, complete=False, answered=7, expected=10, missing=3,
                  note="3 of 10 sections missing: no score (needs at least 8 answered)"),
        ),
        (
            [None] * 10,
            Score(None, complete=False, answered=0, expected=10, missing=10,
                  note="10 of 10 sections missing: no score (needs at least 8 answered)"),
        ),
    ],
)
def test_the_odi_is_the_sum_over_five_times_the_sections_answered(items, expected):
    assert odi.score(items) == expected


@pytest.mark.parametrize(
    ("section", "counts_as"),
    [
        ([2, 4], 4),  # two boxes ticked: the higher counts
        ([4, 2], 4),
        ((1, 5), 5),
        ([3], 3),
        ({0, 1}, 1),
        ([0, 0], 0),
    ],
)
def test_when_several_boxes_are_ticked_in_a_section_the_highest_counts(section, counts_as):
    assert odi.score([section] + [0] * 9).value == odi.score([counts_as] + [0] * 9).value


def test_a_section_with_no_box_ticked_is_unanswered():
    assert odi.score([[]] + [1] * 9) == odi.score([None] + [1] * 9)
    assert odi.score([[]] + [1] * 9).answered == 9


def test_the_fewest_sections_scored_is_a_setting_the_clinic_can_change(monkeypatch):
    eight_answered = [None, None] + [3] * 8
    assert odi.MIN_SECTIONS == 8
    assert odi.score(eight_answered).value == 60.0
    monkeypatch.setattr(odi, "MIN_SECTIONS", 9)
    assert odi.score(eight_answered).value is None


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([0, 0, 0, 6, 0, 0, 0, 0, 0, 0], "section 4: 6 is outside 0-5"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, -1], "section 10: -1 is outside 0-5"),
        ([0, 2.5, 0, 0, 0, 0, 0, 0, 0, 0], "section 2: 2.5 is not a whole number"),
        ([0, [1, 7], 0, 0, 0, 0, 0, 0, 0, 0], "section 2 (ticked boxes): 7 is outside 0-5"),
        ([0, [1, None], 0, 0, 0, 0, 0, 0, 0, 0], "section 2 (ticked boxes): None is not a whole number"),
        ([0, 0, "3", 0, 0, 0, 0, 0, 0, 0], "section 3: '3' is not a whole number"),
        ([0] * 11, "items: too many sections: expected 10, got 11"),
        ([0] * 9, "items: too few sections: expected 10, got 9"),
    ],
)
def test_an_odi_section_that_cannot_be_right_is_refused_naming_the_section(items, message):
    with pytest.raises(ScoringError, match=re.escape(message)):
        odi.score(items)


# ---------------------------------------------------------------------------- PSFS


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("Climbing stairs", 4)], Score(4.0, complete=True, answered=1, expected=1, missing=0)),
        ([("Climbing stairs", 0)], Score(0.0, complete=True, answered=1, expected=1, missing=0)),
        ([("Climbing stairs", 10)], Score(10.0, complete=True, answered=1, expected=1, missing=0)),
        ([("Stairs", 2), ("Running", 3)], Score(2.5, complete=True, answered=2, expected=2, missing=0)),
        ([("Stairs", 3), ("Running", 4), ("Car", 4)], Score(3.7, complete=True, answered=3, expected=3, missing=0)),
        # 2.25 rounds half up to 2.3, as on paper (round() would give 2.2).
        (
            [("Stairs", 2), ("Running", 2), ("Car", 3), ("Garden", 2)],
            Score(2.3, complete=True, answered=4, expected=4, missing=0),
        ),
        # As stored in JSON: lists, not tuples.
        ([["Stairs", 6], ["Running", 8]], Score(7.0, complete=True, answered=2, expected=2, missing=0)),
        (
            [("Stairs", 6), ("Running", None), ("Car", 8), ("Garden", 1), ("Kicking a ball", 5)],
            Score(5.0, complete=False, answered=4, expected=5, missing=1,
                  note="1 of 5 activities not scored: mean of the 4 scored"),
        ),
        (
            [("Stairs", None), ("Running", None)],
            Score(None, complete=False, answered=0, expected=2, missing=2,
                  note="No activity scored (2 activities named): no score"),
        ),
    ],
)
def test_the_psfs_is_the_mean_of_the_scored_activities(items, expected):
    assert psfs.score(items) == expected


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("Stairs", 4), ("", 5)], "activity 2: the activity has no name"),
        ([("   ", 5)], "activity 1: the activity has no name"),
        ([(None, 5)], "activity 1: the activity has no name"),
        ([(f"Activity {n}", 5) for n in range(1, 7)], "items: 6 activities given: name 1 to 5"),
        ([], "items: 0 activities given: name 1 to 5"),
        ([("Stairs", 11)], "activity 1 (Stairs): 11 is outside 0-10"),
        ([("Stairs", -1)], "activity 1 (Stairs): -1 is outside 0-10"),
        ([("Stairs", 6.5)], "activity 1 (Stairs): 6.5 is not a whole number"),
        ([("Stairs", 6, "extra")], "activity 1: expected an (activity, score) pair"),
        (["Stairs"], "activity 1: expected an (activity, score) pair"),
    ],
)
def test_a_psfs_activity_that_cannot_be_right_is_refused_naming_the_activity(items, message):
    with pytest.raises(ScoringError, match=re.escape(message)):
        psfs.score(items)


# ---------------------------------------------------------------------------- one way in for every measure


@pytest.mark.parametrize(
    ("measure", "items", "value"),
    [
        (Measure.NPRS, [3], 3.0),
        ("nprs", [3], 3.0),
        ("lefs", [2] * 20, 40.0),
        (Measure.ODI, [1] * 10, 20.0),
        ("psfs", [("Stairs", 7)], 7.0),
    ],
)
def test_score_dispatches_on_the_measure(measure, items, value):
    assert score(measure, items).value == value


def test_an_unknown_measure_is_refused():
    with pytest.raises(ScoringError, match=re.escape("measure: 'hoos' is not one of nprs, lefs, odi, psfs")):
        score("hoos", [1])


def test_scoring_errors_are_value_errors():
    assert issubclass(ScoringError, ValueError)


@pytest.mark.parametrize(
    ("measure", "low", "high", "higher_is_better"),
    [
        (Measure.NPRS, 0, 10, False),
        (Measure.LEFS, 0, 80, True),
        (Measure.ODI, 0, 100, False),
        (Measure.PSFS, 0, 10, True),
    ],
)
def test_each_measure_says_its_range_and_which_way_is_better(measure, low, high, higher_is_better):
    assert info(measure).range == (low, high)
    assert info(measure.value).higher_is_better is higher_is_better
    assert MEASURES[measure].label


def test_the_measure_modules_agree_with_the_metadata():
    assert MEASURES[Measure.LEFS].maximum == lefs.TOTAL_MAX
    for measure, module in [(Measure.NPRS, nprs), (Measure.LEFS, lefs), (Measure.ODI, odi), (Measure.PSFS, psfs)]:
        assert MEASURES[measure].higher_is_better is module.HIGHER_IS_BETTER


# ---------------------------------------------------------------------------- change and the MCID


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "delta", "percent", "improved", "mcid_reached"),
    [
        # NPRS: a fall of 2 points or 30 %.
        ("nprs", 6, 4, -2.0, -33.3, True, True),
        ("nprs", 6, 5, -1.0, -16.7, True, False),
        ("nprs", 5, 3.5, -1.5, -30.0, True, True),
        ("nprs", 5, 3.6, -1.4, -28.0, True, False),
        ("nprs", 3, 2, -1.0, -33.3, True, True),
        ("nprs", 10, 0, -10.0, -100.0, True, True),
        ("nprs", 4, 7, 3.0, 75.0, False, False),
        ("nprs", 0, 2, 2.0, None, False, False),
        ("nprs", 0, 0, 0.0, None, False, False),
        ("nprs", 5, 5, 0.0, 0.0, False, False),
        # LEFS: a rise of 9 points.
        ("lefs", 40, 49, 9.0, 22.5, True, True),
        ("lefs", 40, 48, 8.0, 20.0, True, False),
        ("lefs", 0, 9, 9.0, None, True, True),
        ("lefs", 10, 13, 3.0, 30.0, True, False),
        ("lefs", 80, 60, -20.0, -25.0, False, False),
        # ODI: a fall of 10 points or 30 %.
        ("odi", 40, 30, -10.0, -25.0, True, True),
        ("odi", 40, 31, -9.0, -22.5, True, False),
        ("odi", 20, 14, -6.0, -30.0, True, True),
        ("odi", 20, 14.1, -5.9, -29.5, True, False),
        ("odi", 44.4, 31.1, -13.3, -30.0, True, True),
        ("odi", 30, 50, 20.0, 66.7, False, False),
        # PSFS: a rise of 2 points (MDC90).
        ("psfs", 3, 5, 2.0, 66.7, True, True),
        ("psfs", 3, 4.9, 1.9, 63.3, True, False),
        ("psfs", 8, 10, 2.0, 25.0, True, True),
        ("psfs", 5, 2, -3.0, -60.0, False, False),
    ],
)
def test_a_change_reaches_the_mcid_only_in_the_better_direction(
    measure, baseline, current, delta, percent, improved, mcid_reached
):
    expected = Change(delta, percent, improved, mcid_reached, threshold=threshold_text(measure))
    assert change(measure, baseline, current) == expected



@pytest.mark.parametrize(
    ("measure", "text", "source"),
    [
        (Measure.NPRS, "a fall of 2 points or 30 %", "Farrar 2001; Childs 2005"),
        (Measure.LEFS, "a rise of 9 points", "Binkley 1999"),
        (Measure.ODI, "a fall of 10 points or 30 %", "Ostelo 2008"),
        (Measure.PSFS, "a rise of 2 points", "MDC90"),
    ],
)
def test_each_mcid_is_said_in_words_with_its_source(measure, text, source):
    assert threshold_text(measure) == text
    assert MCID[measure].source == source


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "message"),
    [
        ("nprs", 11, 5, "baseline: 11 is outside 0-10"),
        ("nprs", 5, -1, "current: -1 is outside 0-10"),
        ("lefs", 40, 81, "current: 81 is outside 0-80"),
        ("odi", 101, 50, "baseline: 101 is outside 0-100"),
        ("psfs", "3", 5, "baseline: '3' is not a number"),
        ("psfs", 3, None, "current: None is not a number"),
        ("nprs", True, 5, "baseline: True is not a number"),
        ("odi", float("nan"), 50, "baseline: nan is outside 0-100"),
        ("hoos", 1, 2, "measure: 'hoos' is not one of"),
    ],
)
def test_a_change_between_impossible_scores_is_refused(measure, baseline, current, message):
    with pytest.raises(ScoringError, match=re.escape(message)):
        change(measure, baseline, current)
