"""A small clinic with a record of every kind the FHIR API serves, written through the services."""

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from apps.assessments.models import OutcomeMeasure
from apps.assessments.services import record_outcome
from apps.visits import services as visits
from hipclinic.zones import clinic_today
from tests.conftest import PASSWORD
from tests.factories import AppointmentFactory, AssessmentFactory, TherapistFactory

FULL_SIDES = [
    {"side": "left", "mmt_grade": "4-", "pain_on_resisted_flexion": False, "knee_hold_seconds": 6,
     "dynamometry_trial_1": 150, "dynamometry_trial_2": 162.5, "dynamometry_trial_3": 158,
     "thomas_iliopsoas": True, "thomas_rectus_femoris": False, "thomas_tfl": None, "aslr": 2},
    {"side": "right", "mmt_grade": "5", "pain_on_resisted_flexion": True, "knee_hold_seconds": 14,
     "dynamometry_trial_1": 201, "thomas_iliopsoas": False, "thomas_rectus_femoris": False, "thomas_tfl": False},
]
MEASURES = {
    "nprs": [5],
    "odi": [2, 3, 1, 0, 2, 3, 1, 2, 0, 1],
    "lefs": [3] * 20,
    "psfs": [["Climbing stairs", 4], ["Getting out of a car", None]],
}


def fhir_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def clinic(patient, therapist, assistant, prescribe):
    """``clinic()`` adds one patient's full record (call it again for another patient's) and returns the patient."""
    rota = TherapistFactory(user=therapist, display_name="Theo Therapist")
    made = []

    def make(patient=patient):
        AssessmentFactory(patient=patient, therapist=therapist, sides=FULL_SIDES)
        for measure, items in MEASURES.items():
            record_outcome(outcome=OutcomeMeasure(patient=patient, measure=measure, items=items,
                                                  recorded_on=clinic_today() - timedelta(days=3)),
                           recorded_by=therapist)
        program = prescribe(patient, therapist, "seated-knee-raise")
        visits.create_plan(
            patient=patient, therapist=therapist, created_by=therapist, visits_per_week=2, duration_weeks=6,
            started_on=clinic_today() - timedelta(days=14), program=program, referral=patient.referrals.first(),
            diagnoses=[("M16.11", ""), ("M62.81", "")],
            goals=[{"description": "Stairs without a rail", "measure": "lefs", "target": 60},
                   {"description": "Pain 3/10 or less", "measure": "nprs", "target": 3}])
        # Each patient's visits two hours after the last one's: one therapist sees them all (no overlaps).
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2 * len(made))
        first, second = (AppointmentFactory(patient=patient, therapist=rota, start=now - timedelta(days=days),
                                            end=now - timedelta(days=days) + timedelta(hours=1), status="completed")
                         for days in (3, 2))
        AppointmentFactory(patient=patient, therapist=rota, start=now + timedelta(days=2),
                           end=now + timedelta(days=2, hours=1))
        content = {"subjective": "Better.", "objective": "4+/5.", "assessment": "Improving.", "plan": "Go on."}
        note = visits.start_note(appointment=first, author=therapist)
        visits.save_note(note=note, edited_by=therapist, **content)
        visits.sign_note(note=note, signer=therapist, password=PASSWORD)
        note = visits.start_note(appointment=second, author=assistant)
        visits.save_note(note=note, edited_by=assistant, **content)
        note = visits.sign_note(note=note, signer=assistant, password=PASSWORD)
        note = visits.cosign_note(note=note, therapist=therapist, password=PASSWORD)
        visits.add_addendum(note=note, author=therapist, reason="Late entry", text="Slept well.", password=PASSWORD)
        made.append(patient)
        return patient

    return make
