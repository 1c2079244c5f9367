"""Every list page and endpoint runs the same number of queries at 10 and at 1,000 rows."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.assessments.models import Assessment, OutcomeMeasure, SideFindings
from apps.followups.models import FollowUp, SessionLog, SessionLogItem
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramVersion
from apps.scheduling.models import Appointment, WaitlistEntry
from tests.factories import TherapistFactory, UserFactory, appointment_kind


def make_rows(count: int) -> None:
    """``count`` patients, each with a referral, an appointment and a waitlist entry (bulk inserts)."""
    therapist = TherapistFactory() if not hasattr(make_rows, "therapist") else make_rows.therapist
    desk = UserFactory(username="bulk-desk", role="front_desk")
    kind = appointment_kind("follow_up")
    offset = Patient.objects.count()
    patients = Patient.objects.bulk_create(
        Patient(first_name=f"P{offset + n}", last_name="Bulk", date_of_birth="1970-01-01", email=f"b{offset + n}@x.org")
        for n in range(count)
    )
    for patient in patients:  # bulk_create skips save(), which assigns record numbers
        patient.record_number = f"B{patient.pk:07d}"
    Patient.objects.bulk_update(patients, ["record_number"])
    Referral.objects.bulk_create(
        Referral(patient=p, cause="prolonged_sitting", red_flags=["weight_loss"] if i % 7 == 0 else [])
        for i, p in enumerate(patients)
    )
    start = datetime(2030, 1, 7, 9, tzinfo=UTC)
    Appointment.objects.bulk_create(
        Appointment(patient=p, therapist=therapist, kind=kind, start=start + timedelta(minutes=30 * (offset + i)),
                    end=start + timedelta(minutes=30 * (offset + i) + 30), booked_by=desk)
        for i, p in enumerate(patients)
    )
    WaitlistEntry.objects.bulk_create(
        WaitlistEntry(patient=p, kind=kind, earliest="2030-01-01", latest="2030-02-01", created_by=desk)
        for p in patients
    )
    clinician = UserFactory(username="bulk-therapist", role="therapist")
    visits = Assessment.objects.bulk_create(
        Assessment(patient=p, therapist=clinician, classification="weak", pain_now=3) for p in patients
    )
    SideFindings.objects.bulk_create(
        SideFindings(assessment=visit, side=side, mmt_grade="4") for visit in visits for side in ("left", "right")
    )
    OutcomeMeasure.objects.bulk_create(
        OutcomeMeasure(patient=p, measure="nprs", items=[4], score=4, complete=True) for p in patients
    )
    exercise = Exercise.objects.get(slug="seated-knee-raise")
    programs = Program.objects.bulk_create(Program(patient=p, therapist=clinician) for p in patients)
    ProgramItem.objects.bulk_create(
        ProgramItem(program=program, exercise=exercise, sets=2, dose_low=8, dose_high=12) for program in programs
    )
    ProgramVersion.objects.bulk_create(ProgramVersion(program=program, number=1, items=[]) for program in programs)
    FollowUp.objects.bulk_create(FollowUp(program=program, week=2, due_date="2030-01-20") for program in programs)
    logs = SessionLog.objects.bulk_create(
        SessionLog(program=program, session_date="2030-01-08", submission_key=f"bulk-{program.pk}")
        for program in programs
    )
    items = {item.program_id: item for item in ProgramItem.objects.filter(program__in=programs)}
    SessionLogItem.objects.bulk_create(
        SessionLogItem(log=log, item=items[log.program_id], exercise=exercise, sets_done=2, pain_during=1)
        for log in logs
    )


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


PAGES = [
    "/api/v1/patients/",
    "/api/v1/patients/?q=Bulk",
    "/api/v1/patients/?cursor=",
    "/api/v1/patients/?page=2&page_size=5",
    "/api/v1/referrals/",
    "/api/v1/appointments/",
    "/api/v1/waitlist/",
    "/api/v1/users/",
    "/admin/patients/patient/",
    "/admin/patients/referral/",
    "/admin/scheduling/appointment/",
    "/admin/scheduling/waitlistentry/",
    "/admin/accounts/user/",
    "/api/v1/assessments/",
    "/api/v1/outcome-measures/",
    "/admin/assessments/assessment/",
    "/admin/assessments/outcomemeasure/",
    "/api/v1/exercises/",
    "/api/v1/programs/",
    "/admin/prescriptions/exercise/",
    "/admin/prescriptions/program/",
    "/admin/followups/followup/",
    "/admin/followups/sessionlog/",
    "/admin/followups/progressionproposal/",
]


@pytest.mark.django_db
def test_list_pages_run_the_same_number_of_queries_at_10_and_1000_rows(client, manager):
    client.force_login(manager)
    make_rows(10)
    small = {url: queries_for(client, url) for url in PAGES}

    make_rows(990)
    UserFactory.create_batch(40, role="front_desk")
    large = {url: queries_for(client, url) for url in PAGES}

    assert large == small
