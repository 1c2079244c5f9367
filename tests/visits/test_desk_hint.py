"""The front desk sees the clock only as a booking hint: on the day's schedule and the patient's page."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from apps.visits import services
from tests.desk.conftest import text
from tests.factories import AppointmentFactory, PatientFactory

START = date(2026, 3, 2)  # Monday: the plan's first visit; ten visits every other day
TENTH = START + timedelta(days=18)
HINT = "Progress report due at this visit: book 45 minutes."


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def tenth_visit(clinic_in_utc, plan_of_care, visit, therapist):
    """Nine visits done (a draft note on the last), the tenth booked; the clock at 08:00 on its day."""
    with time_machine.travel(at(TENTH, 8), tick=False):
        plan_of_care(started_on=START, diagnoses=[("M16.11", "Unilateral primary osteoarthritis, right hip")])
        done = [visit(at=at(START + timedelta(days=2 * n))) for n in range(9)]
        note = services.start_note(appointment=done[-1], author=therapist)
        services.save_note(note=note, edited_by=therapist, subjective="Confidential subjective words",
                           assessment="Confidential assessment words")
        yield visit(at=at(TENTH), status="booked")


def test_the_desk_sees_the_booking_hint_on_the_tenth_visit_and_nothing_clinical(client, frontdesk, tenth_visit):
    client.force_login(frontdesk)
    day_page = client.get(reverse("desk:day", args=[TENTH]))
    patient_page = client.get(reverse("desk:patient", args=[tenth_visit.patient_id]))

    for page in (text(day_page), text(patient_page)):
        assert page.count(HINT) == 1
        for clinical in ("M16.11", "osteoarthritis", "Confidential", "Climb stairs", "Daily note", "Plan of care"):
            assert clinical not in page
    assert 'data-testid="booking-hint"' in day_page.content.decode()


def test_no_hint_once_the_visit_is_over_or_on_other_visits(client, frontdesk, tenth_visit):
    client.force_login(frontdesk)
    eleventh = AppointmentFactory(patient=tenth_visit.patient, therapist=tenth_visit.therapist,
                                  start=at(TENTH + timedelta(days=2)), status="booked")
    with time_machine.travel(at(TENTH, 8), tick=False):
        assert HINT not in text(client.get(reverse("desk:day", args=[eleventh.start.date()])))
        tenth_visit.status = "completed"
        tenth_visit.save()
        assert HINT not in text(client.get(reverse("desk:day", args=[TENTH])))


@pytest.mark.parametrize("patients", [1, 5])
def test_the_schedule_with_hints_runs_the_same_queries_however_many_patients_are_on_a_plan(
    client, frontdesk, clinic_in_utc, therapist, rota, patients, django_assert_num_queries
):
    client.force_login(frontdesk)
    with time_machine.travel(at(TENTH, 8), tick=False):
        for n in range(patients):
            patient = PatientFactory()
            services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=3,
                                 duration_weeks=6, started_on=START, diagnoses=[("M62.81", "")])
            for day in range(9):
                AppointmentFactory(patient=patient, therapist=rota, start=at(START + timedelta(days=2 * day), 9 + n),
                                   status="completed")
            AppointmentFactory(patient=patient, therapist=rota, start=at(TENTH, 9 + n), status="booked")
        # session, user, groups; appointments (with patient, therapist, kind, red-flag alert, open plan),
        # therapists, their working hours that weekday; the hints: policy, open plans, their visits,
        # their report notes; session saved (savepoint, update, release)
        with django_assert_num_queries(13):
            page = text(client.get(reverse("desk:day", args=[TENTH])))
    assert page.count(HINT) == patients
