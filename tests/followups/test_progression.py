"""The progression engine (apps/followups/progression): logs in, one proposal out, no database.

The rules are clinical-reference.md section 5 over the ladder of section 4; the exercises are
the shipped library (apps/prescriptions/library.py).
"""

import itertools
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from apps.followups.progression import (
    BAND_MAX_LEVEL,
    Dose,
    ExerciseFacts,
    ItemLog,
    ItemState,
    ProgressionError,
    Proposal,
    describe,
    dose_text,
    propose,
)
from apps.prescriptions.library import EXERCISES

# As Exercise.objects.ladder() gives it: by rank, then name.
LADDER = sorted((ExerciseFacts.from_mapping(entry) for entry in EXERCISES), key=lambda e: (e.ladder_rank, e.name))
EX = {exercise.slug: exercise for exercise in LADDER}


def log(amount, day=12, *, sets=2, pain=None, morning=None) -> ItemLog:
    return ItemLog(date(2025, 11, day), sets_done=sets, last_set_amount=amount, pain_during=pain, next_morning=morning)


def two(first, second, *, sets=2, pain=None, morning=None) -> list[ItemLog]:
    """Two sessions, 10 and 12 Nov; pain and morning on the latest."""
    return [log(first, 10, sets=sets), log(second, 12, sets=sets, pain=pain, morning=morning)]


def run(slug, dose, logs, *, ladder=LADDER, **steps) -> Proposal:
    exercise = slug if isinstance(slug, ExerciseFacts) else EX[slug]
    return propose(ItemState(item_id=7, exercise=exercise, dose=dose, logs=logs), ladder=ladder, **steps)


def outcome(proposal: Proposal):
    new_exercise = proposal.new_exercise.slug if proposal.new_exercise else None
    return proposal.action, proposal.new_dose, new_exercise


# ---------------------------------------------------------------------------- when to step up


@pytest.mark.parametrize(
    ("dose", "logs", "action"),
    [
        pytest.param(Dose(2, 8, 12), [], "keep", id="no sessions"),
        pytest.param(Dose(2, 8, 12), [log(20)], "keep", id="one session is not two"),
        pytest.param(Dose(2, 8, 12), two(14, 14), "progress", id="exactly +2 twice"),
        pytest.param(Dose(2, 8, 12), two(13, 13), "keep", id="+1 twice is not enough"),
        pytest.param(Dose(2, 8, 12), two(13, 14), "keep", id="the second-to-last at +1"),
        pytest.param(Dose(2, 8, 12), two(14, 13), "keep", id="the last at +1"),
        pytest.param(Dose(2, 8, 12), [log(9, 7), *two(14, 15)], "progress", id="older sessions do not matter"),
        pytest.param(Dose(2, 8, 12), [log(14, 7), log(9, 10), log(14, 12)], "keep", id="not in a row"),
        pytest.param(Dose(2, 8, 12), two(14, 14, sets=1), "keep", id="a prescribed set not done"),
        pytest.param(Dose(2, 8, 12), two(14, 14, sets=3), "progress", id="more sets than prescribed"),
        pytest.param(Dose(2, 8, 12), [log(14, 10), log(None, 12)], "keep", id="last set not recorded"),
        pytest.param(Dose(2, 8, 12), [log(14, 10, pain=6), log(14, 12)], "keep",
                     id="second-to-last too painful to count"),
        pytest.param(Dose(2, 8, 12), [log(14, 10, morning="worse"), log(14, 12, morning="same")], "keep",
                     id="second-to-last worse next morning: does not count"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=5, morning="same"), "progress", id="pain 5 that settled"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=2), "progress", id="pain 2 needs no morning answer"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=3), "keep", id="pain 3 waits for the morning answer"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=3, morning=""), "keep", id="a blank answer is no answer"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=3, morning="better"), "progress", id="pain 3 settled"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=5), "keep", id="pain 5: wait, not step back"),
        pytest.param(Dose(2, 8, 12), two(14, 14, pain=6), "regress", id="pain 6: step back"),
        pytest.param(Dose(2, 8, 12), two(14, 14, morning="worse"), "regress", id="worse next morning"),
        pytest.param(Dose(2, 8, 12), two(9, 9, pain=6), "regress", id="pain 6 without two-for-two"),
        pytest.param(Dose(2, 8, 12), two(9, 9, pain=5, morning="same"), "keep", id="pain 5 and not yet: keep"),
        pytest.param(Dose(2, 8, 12), [log(9, 10, pain=8), log(9, 12, pain=1, morning="same")], "keep",
                     id="only the latest session's pain steps back"),
    ],
)
def test_when_to_step_up_keep_or_step_back(dose, logs, action):
    assert run("straight-leg-raise", dose, logs).action == action


# ---------------------------------------------------------------------------- how far up


@pytest.mark.parametrize(
    ("slug", "dose", "logs", "expected"),
    [
        # (a) the range, both ends, +2 repetitions, never past max_dose (20)
        pytest.param("straight-leg-raise", Dose(2, 8, 12), two(14, 14), ("progress", Dose(2, 10, 14), None),
                     id="range up by 2"),
        pytest.param("straight-leg-raise", Dose(2, 12, 12), two(14, 14), ("progress", Dose(2, 14, 14), None),
                     id="a fixed dose moves as one"),
        pytest.param("straight-leg-raise", Dose(2, 15, 19), two(21, 21), ("progress", Dose(2, 17, 20), None),
                     id="range capped at the top"),
        pytest.param("straight-leg-raise", Dose(2, 19, 19), two(21, 21), ("progress", Dose(2, 20, 20), None),
                     id="range capped, low never above high"),
        # (b) a set, up to 3
        pytest.param("straight-leg-raise", Dose(1, 16, 20), two(22, 22, sets=1), ("progress", Dose(2, 16, 20), None),
                     id="range at the top: a set"),
        pytest.param("straight-leg-raise", Dose(2, 16, 20), two(22, 22), ("progress", Dose(3, 16, 20), None),
                     id="second set to third"),
        # (d) no load here: the next rung, rank 4; no rectus femoris rung there, so the first in ladder order
        pytest.param("straight-leg-raise", Dose(3, 16, 20), two(22, 22, sets=3),
                     ("progress", Dose(2, 6, 8), "standing-march"), id="3 sets at the top: next rung"),
        # (c) ankle weights: +0.5 kg, capped at max_load (5 kg)
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 0.5), None), id="first ankle weight"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 1.0), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 1.5), None), id="ankle weight +0.5 kg"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 4.8), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 5.0), None), id="ankle weight capped at 5 kg"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 5.0), two(22, 22, sets=3),
                     ("progress", Dose(2, 10, 20), "wall-psoas-hold"), id="at max load: next rung"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(2, 16, 20, 1.0), two(22, 22),
                     ("progress", Dose(3, 16, 20, 1.0), None), id="a set comes before load"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 8, 12, 1.0), two(14, 14, sets=3),
                     ("progress", Dose(3, 10, 14, 1.0), None), id="the range comes before load"),
        # (c) bands: one level up, to 5
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 1), None), id="first band"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 2), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 3), None), id="band level up"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 4), two(22, 22, sets=3),
                     ("progress", Dose(3, 16, 20, 5), None), id="band level to 5"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, BAND_MAX_LEVEL), two(22, 22, sets=3),
                     ("progress", Dose(2, 6, 8), "lunge"), id="band level 5: next rung, same bias"),
        pytest.param("banded-diagonal-steps", Dose(2, 16, 20), two(22, 22), ("progress", Dose(2, 18, 22), None),
                     id="steps range up by 2"),
        # a hold: the hold time is the range, +5 s, up to 60 s; no load, so then the next rung
        pytest.param("wall-psoas-hold", Dose(2, 20, 30), two(32, 32), ("progress", Dose(2, 25, 35), None),
                     id="hold up by 5 s"),
        pytest.param("wall-psoas-hold", Dose(2, 20, 30), two(31, 40), ("keep", None, None),
                     id="hold +1 s is not enough"),
        pytest.param("wall-psoas-hold", Dose(2, 50, 58), two(60, 60), ("progress", Dose(2, 55, 60), None),
                     id="hold capped at 60 s"),
        pytest.param("wall-psoas-hold", Dose(3, 50, 60), two(62, 62, sets=3),
                     ("progress", Dose(2, 10, 16), "banded-diagonal-steps"),
                     id="hold at the top: next rung, first by name"),
        # the next rung never skips a rank, even for the same muscle bias
        pytest.param("skater-squat", Dose(3, 16, 20), two(22, 22, sets=3),
                     ("progress", Dose(2, 6, 6), "sliding-mountain-climbers"), id="rank 8 goes to rank 9"),
        pytest.param("sliding-mountain-climbers", Dose(3, 16, 20), two(22, 22, sets=3),
                     ("progress", Dose(2, 6, 6), "hanging-knee-raise"), id="rank 9 to 10, same bias"),
        # the top of the ladder
        pytest.param("hanging-knee-raise", Dose(3, 18, 20), two(22, 22, sets=3), ("keep", None, None),
                     id="top of the ladder"),
        pytest.param("pike", Dose(3, 18, 20), two(22, 22, sets=3), ("keep", None, None), id="the other top"),
        pytest.param("pike", Dose(2, 18, 20), two(22, 22), ("progress", Dose(3, 18, 20), None),
                     id="top rung, not yet top dose"),
    ],
)
def test_one_step_up_in_order_range_set_load_rung(slug, dose, logs, expected):
    assert outcome(run(slug, dose, logs)) == expected


def test_sets_go_up_to_3_only_even_when_the_exercise_allows_more():
    four_sets = replace(EX["straight-leg-raise"], max_sets=4)
    proposal = run(four_sets, Dose(3, 16, 20), two(22, 22, sets=3))
    assert outcome(proposal) == ("progress", Dose(2, 6, 8), "standing-march")


def test_an_exercise_with_fewer_sets_allowed_stops_there():
    two_sets = replace(EX["straight-leg-raise"], max_sets=2)
    assert outcome(run(two_sets, Dose(2, 16, 20), two(22, 22))) == ("progress", Dose(2, 6, 8), "standing-march")


def test_a_band_capped_below_5_by_the_exercise_stops_there():
    band = replace(EX["resistance-band-hip-flexion"], max_load=3.0)
    assert outcome(run(band, Dose(3, 16, 20, 3), two(22, 22, sets=3)))[2] == "lunge"


@pytest.mark.parametrize(
    ("ladder_order", "slug", "expected"),
    [
        pytest.param(["skater-squat", "lunge"], "banded-diagonal-steps", "lunge", id="iliopsoas prefers iliopsoas"),
        pytest.param(["lunge", "skater-squat"], "banded-diagonal-steps", "lunge", id="whatever the order"),
        pytest.param(["pike", "hanging-knee-raise"], "sliding-mountain-climbers", "hanging-knee-raise",
                     id="at rank 10 too"),
        pytest.param(["hanging-knee-raise"], "skater-squat", "hanging-knee-raise", id="else what there is"),
    ],
)
def test_the_next_rung_prefers_the_same_muscle_bias(ladder_order, slug, expected):
    ladder = [EX[name] for name in ladder_order]
    exercise = EX[slug]
    top = Dose(3, exercise.max_dose - 4, exercise.max_dose, exercise.max_load)
    proposal = run(slug, top, two(exercise.max_dose + 2, exercise.max_dose + 2, sets=3), ladder=ladder)
    assert proposal.new_exercise.slug == expected


def test_the_steps_are_clinic_editable():
    assert run("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 1.0), two(22, 22, sets=3),
               load_step=1.0).new_dose.load == 2.0
    assert run("wall-psoas-hold", Dose(2, 20, 30), two(32, 32), hold_step=10).new_dose == Dose(2, 30, 40)
    assert run("straight-leg-raise", Dose(2, 8, 12), two(14, 14), rep_step=4).new_dose == Dose(2, 12, 16)


def test_a_load_from_the_database_as_a_decimal_works():
    proposal = run("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, Decimal("1.5")), two(22, 22, sets=3))
    assert proposal.new_dose.load == 2.0


# ---------------------------------------------------------------------------- how far back


PAINFUL = two(10, 10, pain=7)


@pytest.mark.parametrize(
    ("slug", "dose", "expected"),
    [
        # load first (intensity before volume)
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 1.0), ("regress", Dose(3, 16, 20, 0.5), None),
                     id="ankle weight -0.5 kg"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 0.5), ("regress", Dose(3, 16, 20), None),
                     id="last ankle weight off"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 0.3), ("regress", Dose(3, 16, 20), None),
                     id="less than a step: off"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 3), ("regress", Dose(3, 16, 20, 2), None),
                     id="band level down"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 1), ("regress", Dose(3, 16, 20), None),
                     id="band off"),
        # then a set added above the default (2)
        pytest.param("straight-leg-raise", Dose(3, 16, 20), ("regress", Dose(2, 16, 20), None), id="the added set"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20), ("regress", Dose(2, 16, 20), None),
                     id="no load: the added set"),
        # then the range toward the bottom
        pytest.param("straight-leg-raise", Dose(2, 10, 14), ("regress", Dose(2, 8, 12), None), id="range down by 2"),
        pytest.param("straight-leg-raise", Dose(2, 7, 11), ("regress", Dose(2, 6, 9), None), id="range floored at 6"),
        pytest.param("straight-leg-raise", Dose(2, 6, 8), ("regress", Dose(2, 6, 6), None), id="range to its floor"),
        pytest.param("wall-psoas-hold", Dose(2, 20, 30), ("regress", Dose(2, 15, 25), None), id="hold down by 5 s"),
        # then a set toward the minimum (1)
        pytest.param("straight-leg-raise", Dose(2, 6, 6), ("regress", Dose(1, 6, 6), None), id="a default set"),
        # then the previous rung at its default dose
        pytest.param("straight-leg-raise", Dose(1, 6, 6), ("regress", Dose(2, 10, 15), "supine-heel-slide"),
                     id="previous rung, default dose"),
        pytest.param("skater-squat", Dose(1, 6, 6), ("regress", Dose(2, 16, 20), "banded-diagonal-steps"),
                     id="previous rank even with another bias"),
        pytest.param("pike", Dose(1, 6, 6), ("regress", Dose(2, 6, 8), "sliding-mountain-climbers"),
                     id="pike back to rank 9"),
        pytest.param("lunge", Dose(1, 6, 6), ("regress", Dose(2, 16, 20), "banded-diagonal-steps"),
                     id="to a band exercise without a band"),
        # nothing easier
        pytest.param("seated-knee-raise", Dose(1, 6, 6), ("keep", None, None), id="the easiest step"),
    ],
)
def test_one_step_back_in_order_load_added_set_range_set_rung(slug, dose, expected):
    assert outcome(run(slug, dose, PAINFUL)) == expected


def test_a_worse_morning_steps_back_like_pain():
    worse = [log(10, 10), log(10, 12, pain=1, morning="worse")]
    assert outcome(run("straight-leg-raise", Dose(2, 10, 14), worse)) == ("regress", Dose(2, 8, 12), None)


@pytest.mark.parametrize(
    ("logs", "action"),
    [
        pytest.param([log(10, 10, morning="worse"), log(10, 12)], "regress", id="latest unanswered: the one before"),
        pytest.param([log(10, 10, morning="worse"), log(10, 12, morning="")], "regress", id="blank is unanswered"),
        pytest.param([log(10, 10, morning="worse"), log(10, 12, morning="same")], "keep", id="latest answered"),
        pytest.param([log(10, 7, morning="worse"), log(10, 10), log(10, 12)], "keep", id="two sessions back"),
    ],
)
def test_the_latest_next_morning_answer_counts(logs, action):
    assert run("straight-leg-raise", Dose(2, 10, 14), logs).action == action


# ---------------------------------------------------------------------------- the reasons in words


@pytest.mark.parametrize(
    ("slug", "dose", "logs", "reason"),
    [
        pytest.param("straight-leg-raise", Dose(2, 8, 12), [], "No sessions logged yet.", id="no logs"),
        pytest.param("straight-leg-raise", Dose(2, 8, 12), two(13, 14),
                     "Not yet two sessions in a row at 2 or more beyond 12 repetitions.", id="not yet"),
        pytest.param("wall-psoas-hold", Dose(2, 20, 30), [log(31)],
                     "Not yet two sessions in a row at 2 or more beyond 30 seconds.", id="not yet, a hold"),
        pytest.param("straight-leg-raise", Dose(2, 8, 12), two(14, 15),
                     "Two sessions in a row at 2 or more beyond 12 repetitions (14 on 10 Nov and 15 on 12 Nov), "
                     "so one step up: the range goes from 8-12 to 10-14 repetitions.", id="range"),
        pytest.param("straight-leg-raise", Dose(2, 16, 20), two(22, 23),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 23 on 12 Nov), "
                     "so one step up: one set more, 2 to 3 sets.", id="set"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20), two(22, 22, sets=3),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 22 on 12 Nov), "
                     "so one step up: add a load of 0.5 kg.", id="first load"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 1), two(22, 22, sets=3),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 22 on 12 Nov), "
                     "so one step up: load from 1 kg to 1.5 kg.", id="load"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 2), two(22, 22, sets=3),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 22 on 12 Nov), "
                     "so one step up: band level 2 to 3.", id="band"),
        pytest.param("straight-leg-raise", Dose(3, 16, 20), two(22, 22, sets=3),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 22 on 12 Nov), "
                     "so one step up: the next rung of the ladder, Standing march (rank 4), at the bottom of its "
                     "range: 2 sets of 6-8 repetitions.", id="next rung"),
        pytest.param("hanging-knee-raise", Dose(3, 18, 20), two(22, 22, sets=3),
                     "Two sessions in a row at 2 or more beyond 20 repetitions (22 on 10 Nov and 22 on 12 Nov), "
                     "but Hanging knee raise at 3 sets of 18-20 repetitions is the top of the ladder: keep it.",
                     id="top of the ladder"),
        pytest.param("straight-leg-raise", Dose(2, 8, 12), two(14, 14, pain=4),
                     "Two sessions in a row at 2 or more beyond 12 repetitions (14 on 10 Nov and 14 on 12 Nov), "
                     "but pain was 4/10 during the exercise on 12 Nov: wait for the next-morning answer before "
                     "stepping up.", id="waiting for the morning"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 1), two(10, 10, pain=7),
                     "Pain 7/10 during the exercise on 12 Nov: above 5, so one step back: load from 1 kg to 0.5 kg.",
                     id="pain"),
        pytest.param("seated-hip-flexion-ankle-weights", Dose(3, 16, 20, 0.5), two(10, 10, pain=6),
                     "Pain 6/10 during the exercise on 12 Nov: above 5, so one step back: without the load "
                     "(was 0.5 kg).", id="pain, load off"),
        pytest.param("resistance-band-hip-flexion", Dose(3, 16, 20, 1), two(10, 10, pain=6),
                     "Pain 6/10 during the exercise on 12 Nov: above 5, so one step back: without the band "
                     "(was level 1).", id="pain, band off"),
        pytest.param("straight-leg-raise", Dose(2, 10, 14), two(10, 10, morning="worse"),
                     "Worse the next morning after the session on 12 Nov, so one step back: the range goes from "
                     "10-14 to 8-12 repetitions.", id="worse"),
        pytest.param("straight-leg-raise", Dose(3, 10, 14), two(10, 10, pain=8, morning="worse"),
                     "Pain 8/10 during the exercise on 12 Nov: above 5, and worse the next morning after the "
                     "session on 12 Nov, so one step back: one set fewer, 3 to 2 sets.", id="pain and worse"),
        pytest.param("straight-leg-raise", Dose(1, 6, 6), two(10, 10, pain=7),
                     "Pain 7/10 during the exercise on 12 Nov: above 5, so one step back: back to the previous rung "
                     "of the ladder, Lying heel slide (rank 2), at its default dose: 2 sets of 10-15 repetitions.",
                     id="previous rung"),
        pytest.param("seated-knee-raise", Dose(1, 6, 6), two(10, 10, pain=7),
                     "Pain 7/10 during the exercise on 12 Nov: above 5, but Seated knee raise (seated march) at 1 set "
                     "of 6 repetitions is already the easiest step of the ladder: keep it and ask the therapist to "
                     "review.", id="nothing easier"),
    ],
)
def test_the_reason_says_why_in_words(slug, dose, logs, reason):
    assert run(slug, dose, logs).reason == reason


@pytest.mark.parametrize(
    ("proposal", "line"),
    [
        (Proposal(1, "keep", None, None, "No sessions logged yet."), "Keep: No sessions logged yet."),
        (Proposal(1, "progress", Dose(3, 8, 12), None, "Two sessions ..."), "Step up: Two sessions ..."),
        (Proposal(1, "regress", Dose(1, 8, 12), None, "Pain 7/10 ..."), "Step back: Pain 7/10 ..."),
    ],
)
def test_describe_puts_the_action_before_the_reason(proposal, line):
    assert describe(proposal) == line


@pytest.mark.parametrize(
    ("slug", "dose", "text"),
    [
        ("straight-leg-raise", Dose(1, 6, 6), "1 set of 6 repetitions"),
        ("wall-psoas-hold", Dose(2, 20, 30), "2 sets of 20-30 seconds' hold"),
        ("seated-hip-flexion-ankle-weights", Dose(3, 8, 12, 1.5), "3 sets of 8-12 repetitions, 1.5 kg"),
        ("banded-diagonal-steps", Dose(2, 16, 20, 2), "2 sets of 16-20 steps, band level 2"),
    ],
)
def test_dose_text(slug, dose, text):
    assert dose_text(EX[slug], dose) == text


# ---------------------------------------------------------------------------- whole walks


def proposals_until_it_stops(start, dose, *, up: bool, limit=200):
    """Apply each proposal to the item, with logs that meet it (up) or hurt (down), until it keeps."""
    exercise, seen = start, []
    for _ in range(limit):
        logs = two(dose.dose_high + 2, dose.dose_high + 2, sets=dose.sets) if up else PAINFUL
        proposal = run(exercise, dose, logs)
        if proposal.action == "keep":
            return exercise, dose, seen, proposal
        assert proposal.action == ("progress" if up else "regress")
        exercise = proposal.new_exercise or exercise
        dose = proposal.new_dose
        seen.append((exercise, dose, proposal))
    raise AssertionError("the walk did not stop")


def assert_allowed(exercise: ExerciseFacts, dose: Dose):
    """What prescriptions.services.dose_problems would accept."""
    assert exercise.min_sets <= dose.sets <= min(exercise.max_sets, 3)
    assert exercise.min_dose <= dose.dose_low <= dose.dose_high <= exercise.max_dose
    if dose.load is not None:
        assert exercise.load_unit != "none"
        assert 0 < dose.load <= (exercise.max_load or float("inf"))


@pytest.mark.parametrize("slug", [exercise.slug for exercise in LADDER])
def test_stepping_up_from_any_default_dose_reaches_the_top_with_allowed_doses(slug):
    start = EX[slug]
    dose = Dose(start.default_sets, start.default_dose_low, start.default_dose_high)
    exercise, dose, seen, last = proposals_until_it_stops(start, dose, up=True)
    assert exercise.ladder_rank == 10
    assert "the top of the ladder" in last.reason
    ranks = [start.ladder_rank] + [rung.ladder_rank for rung, _, _ in seen]
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(ranks)), "a rung was skipped"
    for rung, new_dose, proposal in seen:
        assert_allowed(rung, new_dose)
        assert len(proposal.reason) <= 500  # ProgressionProposal.reason


@pytest.mark.parametrize("slug", [exercise.slug for exercise in LADDER])
def test_stepping_back_from_any_top_dose_reaches_the_easiest_with_allowed_doses(slug):
    start = EX[slug]
    load = start.max_load if start.load_unit != "none" else None
    exercise, dose, seen, last = proposals_until_it_stops(start, Dose(3, start.max_dose, start.max_dose, load),
                                                          up=False)
    assert exercise.ladder_rank == 1
    assert (dose.sets, dose.dose_high) == (1, exercise.min_dose)
    assert "already the easiest step" in last.reason
    for rung, new_dose, proposal in seen:
        assert_allowed(rung, new_dose)
        assert len(proposal.reason) <= 500


# ---------------------------------------------------------------------------- what cannot be right


@pytest.mark.parametrize(
    ("logs", "message"),
    [
        ([log(10, pain=11)], "pain must be a whole number 0-10 (11)"),
        ([log(10, pain=-1)], "pain must be a whole number 0-10 (-1)"),
        ([log(10, pain=3.5)], "pain must be a whole number 0-10 (3.5)"),
        ([log(10, pain=True)], "pain must be a whole number 0-10 (True)"),
        ([log(-1)], "the last set must be a whole number from 0 (-1)"),
        ([log(10, sets=-1)], "sets done must be a whole number from 0 (-1)"),
        ([log(10, morning="awful")], "the next morning is better, same or worse ('awful')"),
        ([log(10, 12), log(10, 10)], "the logs must be oldest first"),
    ],
)
def test_a_log_that_cannot_be_right_is_refused(logs, message):
    with pytest.raises(ProgressionError, match=re.escape(message)):
        run("straight-leg-raise", Dose(2, 8, 12), logs)


@pytest.mark.parametrize(
    ("dose", "message"),
    [
        (Dose(2, 12, 8), "the dose 2 x 12-8 cannot be right"),
        (Dose(-1, 8, 12), "the dose -1 x 8-12 cannot be right"),
        (Dose(2, 8, 12, -0.5), "a load cannot be negative"),
    ],
)
def test_a_dose_that_cannot_be_right_is_refused(dose, message):
    with pytest.raises(ProgressionError, match=re.escape(message)):
        run("straight-leg-raise", dose, [])


def test_a_progression_error_is_a_value_error():
    assert issubclass(ProgressionError, ValueError)


def test_decimals_from_the_database_become_floats():
    exercise = ExerciseFacts.from_mapping({**next(e for e in EXERCISES if e["load_unit"] == "kg"),
                                           "max_load": Decimal("5.0"), "id": 3, "_state": object()})
    assert exercise.max_load == 5.0 and isinstance(exercise.max_load, float)
    assert Dose(2, 8, 12, Decimal("1.5")).load == 1.5
