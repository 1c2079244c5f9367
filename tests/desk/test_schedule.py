"""The day's schedule: one column per therapist, moving between days, buttons per appointment."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.desk.conftest import text
from tests.factories import AppointmentFactory, PatientFactory, ReferralFactory, TherapistFactory, appointment_kind

pytestmark = pytest.mark.usefixtures("monday_morning")


def test_today_shows_each_active_therapist_with_their_appointments(desk, physio, patient):
    other = TherapistFactory(display_name="Ben Other")
    TherapistFactory(display_name="Gone Away", is_active=False)
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
                       kind=appointment_kind("initial_assessment"))
    AppointmentFactory(therapist=physio, start=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))  # tomorrow

    response = desk.get(reverse("desk:home"))

    page = text(response)
    assert "Today, Monday 23 November 2026" in page
    assert "Ann Physio 09:00-17:00 09:00-10:00 Pat Example HC" in page
    assert "Initial assessment Booked Check in Reschedule Cancel" in page
    assert f"{other.display_name} 09:00-17:00 No appointments." in page
    assert "Gone Away" not in page
    assert page.count("Pat Example") == 1
    assert 'href="/desk/day/2026-11-22/"' in response.content.decode()
    assert 'href="/desk/day/2026-11-24/"' in response.content.decode()


def test_another_day_is_reached_by_its_address_or_the_go_to_box(desk, physio, patient):
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 28, 9, 0, tzinfo=UTC))

    assert desk.get(reverse("desk:home"), {"day": "2026-11-28"}).url == "/desk/day/2026-11-28/"
    page = text(desk.get("/desk/day/2026-11-28/"))
    assert "Saturday 28 November 2026" in page and "Today," not in page
    assert "Ann Physio Not working this day 09:00-09:30 Pat Example" in page
    assert desk.get("/desk/day/2026-02-30/").status_code == 404


def test_the_day_follows_the_clinics_time_zone(desk, physio, patient, settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "Australia/Sydney"  # UTC+11 in November
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 22, 0, tzinfo=UTC))

    page = text(desk.get("/desk/day/2026-11-24/"))

    assert "09:00-09:30 Pat Example" in page


def test_past_appointments_offer_no_show_and_cancelled_ones_no_buttons(desk, physio, patient):
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    AppointmentFactory(therapist=physio, start=datetime(2026, 11, 23, 11, 0, tzinfo=UTC), status="cancelled")

    page = text(desk.get(reverse("desk:home")))

    assert "Follow-up Booked Check in No-show Reschedule Cancel" in page
    assert page.rstrip().endswith("Follow-up Cancelled")


def test_the_schedule_shows_the_red_flag_alert_and_nothing_clinical(desk, physio, patient):
    ReferralFactory(patient=patient, red_flags=["cancer_history"], reason="Confidential reason")
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    page = text(desk.get(reverse("desk:home")))

    assert f"Pat Example {patient.record_number} Red flag: awaiting therapist review" in page
    assert "cancer" not in page.lower() and "Confidential reason" not in page


@pytest.mark.parametrize("rows", [1, 5])
def test_the_schedule_runs_the_same_queries_however_many_therapists_and_appointments(
    desk, django_assert_num_queries, rows
):
    for hour in range(rows):
        therapist = TherapistFactory()
        patient = PatientFactory()
        ReferralFactory(patient=patient, red_flags=["bowel"])
        AppointmentFactory(patient=patient, therapist=therapist, start=datetime(2026, 11, 23, 9 + hour, tzinfo=UTC))
    # session, user, groups, the clinic's policy (two-factor for the front desk?); appointments
    # (with patient, therapist, kind, red-flag alert), therapists, their working hours that
    # weekday; session saved (savepoint, update, release)
    with django_assert_num_queries(10):
        response = desk.get(reverse("desk:home"))
    assert text(response).count("Red flag: awaiting therapist review") == rows


def test_names_are_escaped_in_the_rows_and_their_button_labels(desk, physio):
    patient = PatientFactory(first_name="Zoë <b>", last_name="O'Neil")
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))

    content = desk.get(reverse("desk:home")).content.decode()

    assert "<b>" not in content
    assert '>Zoë &lt;b&gt; O&#x27;Neil</a>' in content
    assert 'aria-label="Check in Zoë &lt;b&gt; O&#x27;Neil (09:00)"' in content
    assert 'href="/desk/appointments/' in content and '/cancel/?next=/desk/"' in content
