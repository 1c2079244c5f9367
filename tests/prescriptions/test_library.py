"""The shipped exercise library (apps/prescriptions/library.py): plain data, no database.

The ladder and doses are clinical-reference.md section 4, the set limits section 5, the
cautions section 6.
"""

import re
from pathlib import Path

import pytest

from apps.prescriptions import library
from apps.prescriptions.library import EXERCISES, LADDER_RANKS, by_slug

KEYS = {
    "slug", "name", "ladder_rank", "muscle_bias", "equipment", "instructions", "per_side", "dose_type",
    "default_sets", "min_sets", "max_sets", "default_dose_low", "default_dose_high", "min_dose", "max_dose",
    "load_unit", "max_load", "loaded_or_resisted", "cautions",
}
EQUIPMENT = {"none", "chair", "wall", "ankle_weights", "floor_sliders", "resistance_band", "mini_band", "bar"}
CAUSES = {
    "hip_osteoarthritis", "cerebral_palsy", "transpsoas_surgery", "lack_of_exercise", "prolonged_sitting", "other",
}
# Every exercise the referring clinic's article names, plus the rest of the section 4 ladder.
NAMED = {
    "seated-hip-flexion-ankle-weights": 5,
    "standing-hip-flexion-ankle-weights": 5,
    "sliding-mountain-climbers": 9,
    "lunge": 8,
    "wall-psoas-hold": 6,
    "skater-squat": 8,
    "banded-diagonal-steps": 7,
    "pike": 10,
    "seated-knee-raise": 1,
    "supine-heel-slide": 2,
    "straight-leg-raise": 3,
    "standing-march": 4,
    "resistance-band-hip-flexion": 7,
    "hanging-knee-raise": 10,
}
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

ids = [entry["slug"] for entry in EXERCISES]
each = pytest.mark.parametrize("entry", EXERCISES, ids=ids)


def test_library_is_big_enough_and_slugs_and_names_are_unique():
    assert len(EXERCISES) >= 12
    assert len(set(ids)) == len(ids)
    assert len({entry["name"] for entry in EXERCISES}) == len(EXERCISES)


@each
def test_entry_has_exactly_the_keys_with_valid_values(entry):
    assert set(entry) == KEYS
    assert SLUG.match(entry["slug"]), entry["slug"]
    assert isinstance(entry["name"], str) and entry["name"].strip() and len(entry["name"]) <= 100
    assert isinstance(entry["ladder_rank"], int) and entry["ladder_rank"] in LADDER_RANKS
    assert entry["muscle_bias"] in {"iliopsoas", "rectus_femoris"}
    assert entry["equipment"] in EQUIPMENT
    assert isinstance(entry["per_side"], bool)
    assert entry["dose_type"] in {"repetitions", "hold_seconds", "steps", "minutes"}
    assert entry["load_unit"] in {"none", "kg", "band"}
    assert isinstance(entry["loaded_or_resisted"], bool)
    for key in ("default_sets", "min_sets", "max_sets", "default_dose_low", "default_dose_high", "min_dose",
                "max_dose"):
        assert isinstance(entry[key], int) and not isinstance(entry[key], bool) and entry[key] > 0, key


@each
def test_sets_within_one_to_three_and_default_two_or_three(entry):
    assert 1 <= entry["min_sets"] <= entry["default_sets"] <= entry["max_sets"] <= 3
    assert entry["default_sets"] in (2, 3)


@each
def test_default_dose_inside_the_allowed_range(entry):
    assert entry["min_dose"] <= entry["default_dose_low"] <= entry["default_dose_high"] <= entry["max_dose"]


@each
def test_repetitions_follow_the_clinic_range_of_6_to_20(entry):
    if entry["dose_type"] == "repetitions":
        assert entry["min_dose"] >= 6 and entry["max_dose"] <= 20


def test_seed_doses():
    library_by_slug = by_slug()
    hold = library_by_slug["wall-psoas-hold"]
    assert hold["dose_type"] == "hold_seconds" and hold["per_side"]
    assert hold["min_dose"] <= 30 <= hold["max_dose"]
    steps = library_by_slug["banded-diagonal-steps"]
    assert steps["dose_type"] == "steps" and steps["default_dose_low"] <= 20 <= steps["default_dose_high"]


@each
def test_load(entry):
    if entry["load_unit"] == "none":
        assert entry["max_load"] is None
    else:
        assert isinstance(entry["max_load"], float) and entry["max_load"] > 0
    if entry["load_unit"] == "band":
        assert entry["max_load"] in library.BAND_LEVELS
    if entry["equipment"] == "ankle_weights":
        assert entry["load_unit"] == "kg"
    if entry["equipment"] in {"resistance_band", "mini_band"}:
        assert entry["load_unit"] == "band"


def test_every_rank_is_present():
    assert list(LADDER_RANKS) == list(range(1, 11))
    assert {entry["ladder_rank"] for entry in EXERCISES} == set(LADDER_RANKS)


def test_article_and_ladder_exercises_present_at_their_rank():
    library_by_slug = by_slug()
    assert {slug: library_by_slug[slug]["ladder_rank"] for slug in NAMED if slug in library_by_slug} == NAMED


def test_pike_is_the_hardest():
    assert by_slug()["pike"]["ladder_rank"] == max(entry["ladder_rank"] for entry in EXERCISES) == 10


def test_equipment_of_the_named_exercises():
    library_by_slug = by_slug()
    assert library_by_slug["sliding-mountain-climbers"]["equipment"] == "floor_sliders"
    assert library_by_slug["banded-diagonal-steps"]["equipment"] in {"mini_band", "resistance_band"}
    assert library_by_slug["resistance-band-hip-flexion"]["equipment"] == "resistance_band"
    assert library_by_slug["hanging-knee-raise"]["equipment"] == "bar"
    assert library_by_slug["straight-leg-raise"]["muscle_bias"] == "rectus_femoris"


@each
def test_loaded_or_resisted_matches_the_equipment(entry):
    # Section 6 hangs the transpsoas rule on this flag: weights, bands and hanging are loaded.
    assert entry["loaded_or_resisted"] == (entry["equipment"] in {"ankle_weights", "resistance_band", "mini_band",
                                                                    "bar"})


@each
def test_cautions_use_known_causes_and_are_one_sentence(entry):
    assert isinstance(entry["cautions"], dict)
    assert set(entry["cautions"]) <= CAUSES
    for cause, text in entry["cautions"].items():
        assert isinstance(text, str) and text[0].isupper() and text.endswith("."), cause
        assert not re.search(r"[.!?]\s", text), f"{cause}: more than one sentence"


@each
def test_section_6_cautions_are_present(entry):
    if entry["loaded_or_resisted"]:
        assert "transpsoas_surgery" in entry["cautions"]
    if entry["muscle_bias"] == "rectus_femoris":
        assert "cerebral_palsy" in entry["cautions"]
    if "hip_osteoarthritis" in entry["cautions"]:
        assert "5/10" in entry["cautions"]["hip_osteoarthritis"]  # section 5 pain model


def test_cerebral_palsy_has_bent_knee_iliopsoas_work_without_a_caution_low_on_the_ladder():
    easy = [e for e in EXERCISES if e["ladder_rank"] <= 2 and e["muscle_bias"] == "iliopsoas"]
    assert easy and all("cerebral_palsy" not in e["cautions"] for e in easy)


@each
def test_instructions(entry):
    steps = entry["instructions"]
    assert isinstance(steps, list) and 3 <= len(steps) <= 6
    for step in steps:
        assert isinstance(step, str) and step.strip() == step and step
        assert len(step) <= 160, step
        assert not re.match(r"^\d+[.)]", step), "numbers come from the list, not the text"
    text = " ".join(steps).lower()
    assert "breath" in text, "a breathing cue"
    assert "sharp pain" in steps[-1].lower()


def test_the_cautions_name_the_referral_causes_patients_are_registered_with():
    from apps.patients.models import ReferralCause

    assert set(ReferralCause.values) == CAUSES
    assert ReferralCause.TRANSPSOAS_SURGERY == "transpsoas_surgery"
    assert ReferralCause("transpsoas_surgery").label == "Lateral transpsoas spine surgery"


def test_library_has_no_django_imports():
    source = Path(library.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+(django|rest_framework)\b", source, re.MULTILINE)


def test_by_slug_returns_copies():
    first = by_slug()
    first["pike"]["cautions"]["other"] = "changed."
    first["pike"]["instructions"].append("changed")
    assert "other" not in by_slug()["pike"]["cautions"]
    assert "changed" not in by_slug()["pike"]["instructions"]
    assert set(first) == set(ids)
