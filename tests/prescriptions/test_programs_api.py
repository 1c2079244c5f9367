"""Programs and exercises through the API: nested items, doses, versions and who may do what."""

import pytest
from django.utils import timezone

from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramStatus, ProgramVersion
from tests.factories import ReferralFactory
from tests.openapi import assert_documented, served_schema

pytestmark = pytest.mark.django_db

PROGRAMS = "/api/v1/programs/"
EXERCISES = "/api/v1/exercises/"


@pytest.fixture
def writer(api_client, therapist):
    api_client.force_authenticate(therapist)
    return api_client


def row(slug: str, **changes) -> dict:
    exercise = Exercise.objects.get(slug=slug)
    return {"exercise": slug, "sets": exercise.default_sets, "dose_low": exercise.default_dose_low,
            "dose_high": exercise.default_dose_high, **changes}


def create(client, patient, items, **fields):
    return client.post(PROGRAMS, {"patient": patient.pk, "items": items, **fields}, format="json")


def nothing_saved() -> bool:
    return not Program.objects.exists() and not ProgramItem.objects.exists() and not ProgramVersion.objects.exists()


def active_program(client, patient, items) -> str:
    created = create(client, patient, items)
    assert created.status_code == 201, created.json()
    url = f"{PROGRAMS}{created.json()['id']}/"
    assert client.post(url + "activate/").status_code == 200
    return url


# ---------------------------------------------------------------------------- doses and bad input


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"exercise": "seated-knee-raise", "sets": 0}, "sets", "sets must be 1 to 3"),
        ({"exercise": "seated-knee-raise", "sets": 4}, "sets", "sets must be 1 to 3"),
        ({"exercise": "seated-knee-raise", "dose_low": 5}, "dose_low", "6 to 20 repetitions"),
        ({"exercise": "seated-knee-raise", "dose_high": 21}, "dose_high", "6 to 20 repetitions"),
        ({"exercise": "seated-knee-raise", "dose_low": 15, "dose_high": 10}, "dose_high", "must not be below"),
        ({"exercise": "wall-psoas-hold", "dose_low": 9, "dose_high": 30}, "dose_low", "10 to 60 seconds' hold"),
        ({"exercise": "wall-psoas-hold", "dose_low": 30, "dose_high": 61}, "dose_high", "10 to 60 seconds' hold"),
        ({"exercise": "banded-diagonal-steps", "dose_low": 20, "dose_high": 31}, "dose_high", "10 to 30 steps"),
        ({"exercise": "seated-hip-flexion-ankle-weights", "load": "5.5"}, "load", "at most 5"),
        ({"exercise": "resistance-band-hip-flexion", "load": "6"}, "load", "at most 5"),
        ({"exercise": "seated-hip-flexion-ankle-weights", "load": "0"}, "load", "above zero"),
        ({"exercise": "seated-knee-raise", "load": "1"}, "load", "takes no load"),
    ],
    ids=["sets-0", "sets-4", "reps-low", "reps-high", "low-above-high", "hold-short", "hold-long", "steps-many",
         "kg-heavy", "band-heavy", "load-zero", "load-on-bodyweight"],
)
def test_a_dose_outside_the_exercise_range_is_refused_naming_the_field(writer, patient, item, field, reason):
    items = [row("standing-march"), row(item.pop("exercise"), **item)]

    response = create(writer, patient, items)

    assert response.status_code == 400
    assert field in response.json()["items"]["1"], response.json()  # the second item, by its field
    assert reason in str(response.json()["items"]["1"][field])
    assert nothing_saved()


def test_a_retired_exercise_cannot_be_prescribed(writer, patient):
    Exercise.objects.filter(slug="lunge").update(is_active=False)

    response = create(writer, patient, [row("seated-knee-raise"), row("lunge")])

    assert response.status_code == 400
    assert "Item 2 (Forward lunge) is retired" in str(response.json()["items"])
    assert nothing_saved()


def test_a_retired_exercise_stays_on_a_program_that_already_had_it(writer, patient):
    url = active_program(writer, patient, [row("seated-knee-raise"), row("standing-march")])
    Exercise.objects.filter(slug="standing-march").update(is_active=False)

    kept = writer.patch(url, {"items": [row("seated-knee-raise", sets=3), row("standing-march")]}, format="json")
    Exercise.objects.filter(slug="lunge").update(is_active=False)
    refused = writer.patch(url, {"items": [row("seated-knee-raise"), row("standing-march"), row("lunge")]},
                           format="json")

    assert kept.status_code == 200, kept.json()
    assert [item["exercise"] for item in kept.json()["items"]] == ["seated-knee-raise", "standing-march"]
    assert refused.status_code == 400 and "Item 3 (Forward lunge) is retired" in str(refused.json()["items"])
    assert [(i.exercise.slug, i.sets) for i in Program.objects.get().items.all()] == [("seated-knee-raise", 3),
                                                                                    ("standing-march", 2)]


def test_a_program_for_an_archived_patient_is_refused(writer, patient):
    patient.archived_at = timezone.now()
    patient.save()

    response = create(writer, patient, [row("seated-knee-raise")])

    assert response.status_code == 400 and "archived" in str(response.json()["patient"])
    assert nothing_saved()


def test_an_existing_program_of_a_patient_archived_since_cannot_be_edited_or_activated(writer, patient):
    url = f"{PROGRAMS}{create(writer, patient, [row('seated-knee-raise')]).json()['id']}/"
    patient.archived_at = timezone.now()
    patient.save()

    edited = writer.patch(url, {"goals": "Stairs"}, format="json")
    activated = writer.post(url + "activate/")

    assert edited.status_code == 400 and "archived" in str(edited.json()["patient"])
    assert activated.status_code == 400 and "archived" in str(activated.json()["patient"])
    assert Program.objects.get().status == ProgramStatus.DRAFT and Program.objects.get().goals == ""


def test_a_program_cannot_point_at_another_patients_assessment(writer, patient, therapist):
    from apps.assessments.models import Assessment

    other = Assessment.objects.create(patient=ReferralFactory().patient, therapist=therapist)

    response = create(writer, patient, [row("seated-knee-raise")], source_assessment=other.pk)

    assert response.status_code == 400 and "source_assessment" in response.json()
    assert nothing_saved()


def test_an_active_program_cannot_be_activated_again_nor_an_empty_one(writer, patient):
    url = active_program(writer, patient, [row("seated-knee-raise")])
    empty = create(writer, patient, [])

    again = writer.post(url + "activate/")
    nothing = writer.post(f"{PROGRAMS}{empty.json()['id']}/activate/")

    assert again.status_code == 400 and "active program cannot be activated" in str(again.json()["status"])
    assert nothing.status_code == 400 and "at least one exercise" in str(nothing.json()["items"])


# ---------------------------------------------------------------------------- nested items


def test_a_program_is_created_with_nested_items_in_order_with_their_dose(writer, patient, therapist):
    response = create(writer, patient, [row("wall-psoas-hold", sets=3, dose_low=30, dose_high=30, side="left"),
                                        row("seated-hip-flexion-ankle-weights", load="2.5")],
                      goals="Climb stairs", weeks=8)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["therapist"], body["weeks"], body["current_version"]) == ("draft", therapist.pk,
                                                                                          8, None)
    assert [(item["exercise"], item["order"], item["dose"]) for item in body["items"]] == [
        ("wall-psoas-hold", 1, "3 sets of 30 seconds' hold on the left side"),
        ("seated-hip-flexion-ankle-weights", 2, "2 sets of 8-12 repetitions on each side, 2.5 kg"),
    ]


def test_status_is_not_writable_so_a_program_goes_active_only_through_activate(writer, patient):
    response = create(writer, patient, [row("seated-knee-raise")], status="active")

    assert response.status_code == 201 and response.json()["status"] == "draft"


def test_an_update_with_items_replaces_them_and_one_without_keeps_them(writer, patient):
    url = f"{PROGRAMS}{create(writer, patient, [row('seated-knee-raise'), row('standing-march')]).json()['id']}/"

    replaced = writer.patch(url, {"items": [row("straight-leg-raise", sets=1)]}, format="json")
    kept = writer.patch(url, {"goals": "Walk to the shop"}, format="json")

    assert (replaced.status_code, kept.status_code) == (200, 200)
    assert [(i["exercise"], i["sets"]) for i in replaced.json()["items"]] == [("straight-leg-raise", 1)]
    assert [i["exercise"] for i in kept.json()["items"]] == ["straight-leg-raise"]
    assert ProgramItem.objects.count() == 1 and not ProgramVersion.objects.exists()  # drafts have no versions


def test_a_refused_update_leaves_the_program_as_it_was(writer, patient):
    url = active_program(writer, patient, [row("seated-knee-raise"), row("standing-march")])

    response = writer.patch(url, {"goals": "New", "items": [row("seated-knee-raise", sets=3),
                                                            row("standing-march", dose_high=99)]}, format="json")

    assert response.status_code == 400 and "dose_high" in response.json()["items"]["1"]
    program = Program.objects.get()
    assert program.goals == "" and [i.sets for i in program.items.all()] == [2, 2]
    assert program.versions.count() == 1


# ---------------------------------------------------------------------------- versions


def test_editing_an_active_program_keeps_the_previous_version_readable(writer, patient, therapist):
    url = active_program(writer, patient, [row("seated-knee-raise"), row("standing-march")])
    second = writer.patch(url, {"items": [row("seated-knee-raise", sets=3), row("wall-psoas-hold")]},
                          format="json")

    versions = writer.get(url + "versions/")

    assert second.status_code == 200 and second.json()["current_version"] == 2
    assert versions.status_code == 200
    first, latest = versions.json()
    assert (first["number"], latest["number"]) == (1, 2)
    assert [item["dose"] for item in first["items"]] == ["2 sets of 10-15 repetitions on each side",
                                                         "2 sets of 8-12 repetitions on each side"]
    assert [item["exercise"] for item in first["items"]] == ["seated-knee-raise", "standing-march"]
    assert first["changes"] == ["First version."]
    knee, march, hold = (Exercise.objects.get(slug=slug).name
                         for slug in ("seated-knee-raise", "standing-march", "wall-psoas-hold"))
    assert sorted(latest["changes"]) == sorted([
        f"{knee}: 2 sets of 10-15 repetitions on each side -> 3 sets of 10-15 repetitions on each side.",
        f"Added {hold}: 2 sets of 20-30 seconds' hold on each side.",
        f"Removed {march}.",
    ])
    assert first["created_by"] == latest["created_by"] == therapist.pk
    assert first["created_at"] <= latest["created_at"]


def test_an_edit_that_changes_no_item_makes_no_new_version(writer, patient):
    url = active_program(writer, patient, [row("seated-knee-raise")])

    goals = writer.patch(url, {"goals": "Stairs"}, format="json")
    same_items = writer.patch(url, {"items": [row("seated-knee-raise")]}, format="json")

    assert (goals.status_code, same_items.status_code) == (200, 200)
    assert [v["number"] for v in writer.get(url + "versions/").json()] == [1]


def test_the_versions_of_a_draft_are_empty(writer, patient):
    created = create(writer, patient, [row("seated-knee-raise")])

    assert writer.get(f"{PROGRAMS}{created.json()['id']}/versions/").json() == []


def test_the_versions_are_one_whole_list_whatever_the_query(writer, patient):
    # The versions are the program's whole list: the program list's filters and paging do not apply.
    url = active_program(writer, patient, [row("seated-knee-raise")])
    other = ReferralFactory(cause="lack_of_exercise").patient

    response = writer.get(url + "versions/", {"patient": other.pk, "status": "stopped", "page_size": 1})

    assert response.status_code == 200 and [v["number"] for v in response.json()] == [1]
    assert_documented(served_schema(writer), response, "GET", "/api/v1/programs/{id}/versions/")


def test_a_patch_with_an_incomplete_item_names_what_is_missing(writer, patient):
    # A PATCH may leave fields out, but the items it gives replace the list: each must be whole.
    url = active_program(writer, patient, [row("seated-knee-raise")])

    response = writer.patch(url, {"items": [{"order": 2}]}, format="json")

    assert response.status_code == 400
    assert {"exercise", "sets", "dose_low", "dose_high"} <= set(response.json()["items"][0])
    assert [item["exercise"] for item in writer.get(url).json()["items"]] == ["seated-knee-raise"]


# ---------------------------------------------------------------------------- who may do what


def test_the_front_desk_gets_403_on_exercises_and_programs(api_client, frontdesk, patient):
    api_client.force_authenticate(frontdesk)

    for url in [EXERCISES, PROGRAMS, f"{EXERCISES}{Exercise.objects.first().pk}/"]:
        assert api_client.get(url).status_code == 403, url
    assert create(api_client, patient, [row("seated-knee-raise")]).status_code == 403
    assert nothing_saved()


def test_a_manager_reads_but_does_not_write(api_client, writer, manager, patient):
    url = f"{PROGRAMS}{create(writer, patient, [row('seated-knee-raise')]).json()['id']}/"
    api_client.force_authenticate(manager)

    assert api_client.get(PROGRAMS).json()["count"] == 1
    assert api_client.get(url + "versions/").status_code == 200
    assert api_client.get(EXERCISES).json()["count"] == 15
    assert create(api_client, patient, [row("seated-knee-raise")]).status_code == 403
    assert api_client.patch(url, {"goals": "x"}, format="json").status_code == 403
    assert api_client.post(url + "activate/").status_code == 403
    assert api_client.patch(f"{EXERCISES}{Exercise.objects.first().pk}/", {"is_active": False},
                            format="json").status_code == 403
    assert Program.objects.get().status == ProgramStatus.DRAFT and Exercise.objects.active().count() == 15


def test_a_therapist_writes_programs_and_retires_exercises(writer, patient):
    lunge = Exercise.objects.get(slug="lunge")

    retired = writer.patch(f"{EXERCISES}{lunge.pk}/", {"is_active": False}, format="json")
    listed = writer.get(EXERCISES, {"is_active": "true"}).json()

    assert retired.status_code == 200 and retired.json()["is_active"] is False
    assert listed["count"] == 14 and "lunge" not in [e["slug"] for e in listed["results"]]
    assert writer.delete(f"{EXERCISES}{lunge.pk}/").status_code in (403, 405)  # retired, never deleted
    assert Exercise.objects.filter(pk=lunge.pk).exists()


def test_the_exercise_list_runs_easiest_first_with_instructions(writer):
    body = writer.get(EXERCISES).json()

    ranks = [exercise["ladder_rank"] for exercise in body["results"]]
    assert body["count"] == 15 and ranks == sorted(ranks) and ranks[0] == 1 and ranks[-1] == 10
    assert all(exercise["instructions"] for exercise in body["results"])


def test_an_exercise_with_a_default_dose_outside_its_range_is_refused(writer):
    lunge = Exercise.objects.get(slug="lunge")

    response = writer.patch(f"{EXERCISES}{lunge.pk}/", {"default_sets": 5}, format="json")

    assert response.status_code == 400 and "default_sets" in response.json()

