"""Recording assessments and outcome measures through the API, as integrators and the admin do."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.assessments.models import Assessment, OutcomeMeasure, SideFindings
from tests.factories import PatientFactory

WEAK_LEFT = [
    {"side": "left", "mmt_grade": "3+", "pain_on_resisted_flexion": True, "knee_hold_seconds": "6",
     "dynamometry_trial_1": "150", "dynamometry_trial_2": "162", "thomas_iliopsoas": False},
    {"side": "right", "mmt_grade": "5", "pain_on_resisted_flexion": False, "knee_hold_seconds": "15",
     "dynamometry_trial_1": "200", "thomas_iliopsoas": True},
]


pytestmark = pytest.mark.django_db


def post_assessment(api_client, user, **body):
    api_client.force_authenticate(user)
    return api_client.post("/api/v1/assessments/", body, format="json")


def test_a_therapist_records_an_assessment_and_sees_what_drove_the_classification(api_client, therapist, patient):
    response = post_assessment(api_client, therapist, patient=patient.pk, complaints=["stairs", "knee_pain"],
                               pain_now=4, pain_worst_week=7, sides=WEAK_LEFT)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["classification"] == "both"
    assert body["therapist"] == therapist.pk
    assert float(body["limb_symmetry_index"]) == 81.0  # 162 / 200
    reasons = " ".join(body["classification_reasons"])
    assert "3+/5" in reasons and "Thomas" in reasons
    assert body["suggested_rung"] == 3
    left = next(side for side in body["sides"] if side["side"] == "left")
    assert float(left["best_newtons"]) == 162.0 and left["knee_hold_pass"] is False


def test_painless_weakness_raises_a_visible_warning(api_client, therapist, patient):
    sides = [{"side": "left", "mmt_grade": "4", "pain_on_resisted_flexion": False}, {"side": "right", "mmt_grade": "5"}]

    body = post_assessment(api_client, therapist, patient=patient.pk, sides=sides).json()

    assert len(body["warnings"]) == 1 and "left" in body["warnings"][0].lower()


@pytest.mark.parametrize(
    ("side", "field"),
    [({"side": "left", "mmt_grade": "6"}, "mmt_grade"),
     ({"side": "left", "knee_hold_seconds": "-1"}, "knee_hold_seconds"),
     ({"side": "left", "dynamometry_trial_1": "5000"}, "dynamometry_trial_1"), ({"side": "left", "aslr": 7}, "aslr"),
     ({"dynamometry_trial_1": "150"}, "side")],
)
def test_out_of_range_findings_and_a_value_without_a_side_are_refused(api_client, therapist, patient, side, field):
    response = post_assessment(api_client, therapist, patient=patient.pk, sides=[side])

    assert response.status_code == 400
    assert field in str(response.json())
    assert not Assessment.objects.exists() and not SideFindings.objects.exists()


def test_an_assessment_for_an_archived_patient_is_refused(api_client, therapist, patient):
    patient.archived_at = patient.created_at
    patient.save()

    response = post_assessment(api_client, therapist, patient=patient.pk, sides=WEAK_LEFT)

    assert response.status_code == 400 and "patient" in response.json()
    assert not Assessment.objects.exists()


@pytest.mark.django_db
def test_the_front_desk_gets_403_on_all_clinical_content(api_client, frontdesk):
    patient = PatientFactory()
    api_client.force_authenticate(frontdesk)

    for url in ["/api/v1/assessments/", "/api/v1/outcome-measures/", f"/api/v1/patients/{patient.pk}/progress/"]:
        assert api_client.get(url).status_code == 403, url
    assert api_client.post("/api/v1/assessments/", {"patient": patient.pk}, format="json").status_code == 403


def test_a_follow_up_score_shows_its_change_against_baseline_and_the_mcid(api_client, therapist, patient):
    api_client.force_authenticate(therapist)
    first = timezone.localdate() - timedelta(days=28)
    baseline = api_client.post("/api/v1/outcome-measures/", {
        "patient": patient.pk, "measure": "lefs", "recorded_on": first.isoformat(), "items": [2] * 20,
    }, format="json").json()
    follow_up = api_client.post("/api/v1/outcome-measures/", {
        "patient": patient.pk, "measure": "lefs", "items": [3] * 15 + [2] * 5,
    }, format="json")

    assert baseline["score"] == "40.0" and baseline["change_from_baseline"] is None
    change = follow_up.json()["change_from_baseline"]
    assert (change["delta"], change["improved"], change["mcid_reached"]) == (15, True, True)


def test_a_partly_filled_questionnaire_is_saved_incomplete_and_not_scored(api_client, therapist, patient):
    api_client.force_authenticate(therapist)

    body = api_client.post("/api/v1/outcome-measures/", {
        "patient": patient.pk, "measure": "lefs", "items": [4] * 17 + [None] * 3,
    }, format="json").json()

    assert (body["score"], body["complete"], body["missing_items"]) == (None, False, 3)
    assert "3" in body["score_note"]


@pytest.mark.parametrize(("measure", "items"), [("lefs", [5] * 20), ("nprs", [11]), ("odi", [6] * 10),
                                                ("psfs", [["Stairs", 12]]), ("lefs", "not a list")])
def test_item_scores_out_of_range_are_refused_naming_the_items(api_client, therapist, patient, measure, items):
    api_client.force_authenticate(therapist)

    response = api_client.post("/api/v1/outcome-measures/", {"patient": patient.pk, "measure": measure,
                                                              "items": items}, format="json")

    assert response.status_code == 400 and "items" in response.json()
    assert not OutcomeMeasure.objects.exists()


def test_the_progress_endpoint_shows_strength_pain_and_measures_over_time(api_client, therapist, patient):
    api_client.force_authenticate(therapist)
    old = (timezone.localdate() - timedelta(days=42)).isoformat()
    post_assessment(api_client, therapist, patient=patient.pk, assessed_on=old, pain_now=6,
                    sides=[{"side": "left", "mmt_grade": "3"}, {"side": "right", "mmt_grade": "4"}])
    post_assessment(api_client, therapist, patient=patient.pk, pain_now=2,
                    sides=[{"side": "left", "mmt_grade": "4"}, {"side": "right", "mmt_grade": "5"}])
    for day, score in [(old, 7), (timezone.localdate().isoformat(), 3)]:
        api_client.post("/api/v1/outcome-measures/", {"patient": patient.pk, "measure": "nprs", "recorded_on": day,
                                                      "items": [score]}, format="json")

    progress = api_client.get(f"/api/v1/patients/{patient.pk}/progress/").json()

    assert [p["left_grade"] for p in progress["strength"]] == ["3", "4"]
    assert [p["now"] for p in progress["pain"]] == [6, 2]
    nprs = progress["measures"]["nprs"]["points"]
    assert nprs[-1]["change"]["delta"] == -4 and nprs[-1]["change"]["mcid_reached"] is True
    assert any("stronger" in line for line in progress["summary"])
