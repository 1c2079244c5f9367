"""The clock on real plans: ``selectors.due_for_plan`` as the days go by (time_machine), and the desk's hint.

The clinic is pinned to UTC and the clock to noon, so each day is the same date everywhere.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from apps.scheduling.models import Appointment
from apps.visits import selectors, services
from apps.visits.models import NoteKind
from tests.conftest import PASSWORD
from tests.factories import AppointmentFactory, PatientFactory

START = date(2026, 3, 2)  # a Monday: the plan starts and the first treatment happens


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def at_ten(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


@pytest.fixture
def clock(clinic_in_utc):
    with time_machine.travel(noon(START), tick=False) as traveller:
        yield traveller


def due(plan, what: str):
    return [item for item in selectors.due_for_plan(plan) if item.what == what]


def test_a_progress_report_is_raised_at_the_10th_visit_and_again_ten_visits_after_it(
    clock, plan_of_care, visit, therapist
):
    plan = plan_of_care(started_on=START)
    days = [START + timedelta(days=2 * n) for n in range(12)]  # every other day
    appointments = [visit(at=at_ten(day), status="booked") for day in days]

    clock.move_to(noon(days[8]))  # visit 9, today: the 10th is booked two days on
    for appointment in appointments[:9]:
        appointment.status = "completed"
        appointment.save()
    assert [(d.at_visit, d.due_on, d.appointment_id, d.overdue) for d in due(plan, "progress_report")] == [
        (10, days[9], appointments[9].pk, False)]
    assert selectors.visit_hint(appointments[9]) == "Progress report due at this visit: book 45 minutes."
    assert selectors.visit_hint(appointments[10]) == ""

    clock.move_to(noon(days[9]))  # the 10th visit: the report is written at it
    appointments[9].status = "completed"
    appointments[9].save()
    assert due(plan, "progress_report")[0].overdue is False
    report = services.start_note(appointment=appointments[9], author=therapist, kind=NoteKind.PROGRESS)
    assert due(plan, "progress_report")[0].at_visit == 10  # a draft is not on the record yet
    services.sign_note(note=report, signer=therapist, password=PASSWORD)

    [next_report] = due(plan, "progress_report")
    assert (next_report.at_visit, next_report.due_on) == (20, None)  # twelve visits booked so far
    assert selectors.visit_hint(appointments[10]) == ""


def test_a_progress_report_missed_at_the_10th_visit_is_overdue_and_the_desk_books_the_next_visit_longer(
    clock, plan_of_care, visit
):
    plan = plan_of_care(started_on=START)
    days = [START + timedelta(days=2 * n) for n in range(11)]
    appointments = [visit(at=at_ten(day), status="completed" if n < 10 else "booked") for n, day in enumerate(days)]

    clock.move_to(noon(days[9] + timedelta(days=1)))

    [report] = due(plan, "progress_report")
    assert (report.at_visit, report.overdue) == (10, True)
    assert selectors.visit_hint(appointments[10]) == "Progress report due at this visit: book 45 minutes."


def test_re_certification_is_raised_at_day_90_and_a_late_one_starts_a_new_period(
    clock, plan_of_care, visit, therapist
):
    plan = plan_of_care(started_on=START)
    visit(at=at_ten(START))  # the first treatment
    assert [(d.due_on, d.overdue) for d in due(plan, "certification")] == [(START + timedelta(days=30), False)]
    clock.move_to(noon(START + timedelta(days=8)))
    services.record_certification(plan=plan, signed_on=START + timedelta(days=8), clinician="Dr Ref",
                                  recorded_by=therapist)
    assert due(plan, "certification") == []

    day_90 = START + timedelta(days=90)
    for today, overdue in [(day_90 - timedelta(days=1), False), (day_90, False), (day_90 + timedelta(days=1), True)]:
        clock.move_to(noon(today))
        assert [(d.due_on, d.overdue) for d in due(plan, "recertification")] == [(day_90, overdue)], today

    # Re-certified on day 95: the new period runs 90 days from that signature.
    clock.move_to(noon(day_90 + timedelta(days=5)))
    services.record_certification(plan=plan, signed_on=day_90 + timedelta(days=5), clinician="Dr Ref",
                                  recorded_by=therapist)
    assert [(d.due_on, d.overdue) for d in due(plan, "recertification")] == [(day_90 + timedelta(days=95), False)]


def test_with_the_clock_off_nothing_is_due_and_the_desk_gets_no_hint(clock, plan_of_care, visit, clinic_policy):
    plan = plan_of_care(started_on=START, duration_weeks=1)
    appointments = [visit(at=at_ten(START + timedelta(days=n)), status="completed") for n in range(9)]
    appointments.append(visit(at=at_ten(START + timedelta(days=10)), status="booked"))
    clock.move_to(noon(START + timedelta(days=9)))
    assert {d.what for d in selectors.due_for_plan(plan)} == {"certification", "progress_report"}

    clinic_policy(plan_of_care_clock=False)

    assert selectors.due_for_plan(plan) == []
    assert selectors.due_for_plans([plan]) == {}
    assert selectors.visit_hint(appointments[-1]) == ""


def test_a_discharged_plan_has_nothing_due(clock, plan_of_care, visit, therapist):
    plan = plan_of_care(started_on=START)
    visit(at=at_ten(START))
    plan.status, plan.discharged_on = "discharged", START
    plan.save()
    assert selectors.due_for_plan(plan) == []


def test_the_minutes_in_the_hint_are_the_clinics_choice(clock, plan_of_care, visit, clinic_policy):
    clinic_policy(report_visit_minutes=60, progress_report_every_visits=2)
    plan_of_care(started_on=START)
    visit(at=at_ten(START))
    second = visit(at=at_ten(START + timedelta(days=3)), status="booked")
    assert selectors.visit_hint(second) == "Progress report due at this visit: book 60 minutes."


@pytest.mark.parametrize("patients", [1, 6])
def test_hints_for_a_list_make_the_same_queries_however_many_patients(
    clock, therapist, rota, patients, django_assert_num_queries
):
    selectors.clinic_policy()  # read once per request: not counted here
    booked = []
    for n in range(patients):
        patient = PatientFactory()
        services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=2,
                             duration_weeks=6, started_on=START, diagnoses=[("M62.81", "")])
        for day in range(10):
            booked.append(AppointmentFactory(patient=patient, therapist=rota, status="booked",
                                             start=at_ten(START + timedelta(days=day)) + timedelta(hours=n)))
    rows = list(selectors.with_open_plan(Appointment.objects.filter(pk__in=[a.pk for a in booked])))

    # the open plans; their visits; their report notes
    with django_assert_num_queries(3):
        hints = selectors.visit_hints(rows)
    assert len(hints) == patients  # the tenth visit of each

    without_plans = [AppointmentFactory(status="booked") for _ in range(patients)]  # each with its own rota
    rows = list(selectors.with_open_plan(Appointment.objects.filter(pk__in=[a.pk for a in without_plans])))
    with django_assert_num_queries(0):
        assert selectors.visit_hints(rows) == {}
