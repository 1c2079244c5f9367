"""Admin pages for programs and referrals: fixed query counts, decisions only by therapists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.patients.models import Referral
from apps.prescriptions.models import Exercise, Program, ProgramItem
from tests.factories import ReferralFactory

pytestmark = pytest.mark.django_db


def queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_a_program_page_adds_at_most_the_autocomplete_widgets_query_per_exercise(client, therapist):
    patient = ReferralFactory(cause="hip_osteoarthritis").patient
    small, large = (Program.objects.create(patient=patient, therapist=therapist) for _ in range(2))
    exercises = list(Exercise.objects.ladder())
    for program, count in ((small, 2), (large, 10)):
        for n, exercise in enumerate(exercises[:count], start=1):
            ProgramItem.objects.create(program=program, exercise=exercise, order=n, sets=exercise.default_sets,
                                       dose_low=exercise.default_dose_low, dose_high=exercise.default_dose_high)
    client.force_login(therapist)

    extra = (queries(client, f"/admin/prescriptions/program/{large.pk}/change/")
             - queries(client, f"/admin/prescriptions/program/{small.pk}/change/"))
    # Django's autocomplete widget looks up its selected exercise once per row; the caution
    # column (the patient's referral cause) adds nothing per row.
    assert extra <= 10  # 8 more rows: 9 queries now; 25 when the caution cost two queries a row


def test_a_manager_cannot_record_a_red_flag_decision_only_a_therapist_can(client, manager, therapist):
    referral = ReferralFactory(red_flags=["trauma"])
    url = f"/admin/patients/referral/{referral.pk}/change/"
    # The decision's inputs are "decision" and "decision_note"; the model's own names are posted
    # too, as a tampered form would: neither may set the decision for a manager.
    form = {"patient": referral.patient_id, "cause": referral.cause, "referral_date": "2026-11-01",
            "red_flags": ["trauma"], "decision": "cleared", "decision_note": "looked fine",
            "red_flag_decision": "cleared", "red_flag_decision_note": "looked fine"}

    client.force_login(manager)
    response = client.post(url, form)
    assert response.status_code == 302  # saved, but the decision field is not the manager's to set
    referral.refresh_from_db()
    assert referral.red_flag_decision == "" and referral.red_flag_unresolved

    client.force_login(therapist)
    client.post(url, form)
    referral.refresh_from_db()
    assert referral.red_flag_decision == "cleared" and referral.red_flag_decided_by == therapist
    latest = Referral.history.filter(id=referral.pk).first()
    assert (latest.red_flag_decision, latest.history_user) == ("cleared", therapist)  # kept in history
