"""Booking rules, as the front desk and integrators meet them through the API."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.notifications.models import OutboxEmail
from apps.scheduling import services
from apps.scheduling.models import Appointment, AppointmentStatus, TimeOff
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    TherapistFactory,
    UserFactory,
    appointment_kind,
)
from tests.openapi import assert_documented, served_schema

# Monday 23 November 2026, 08:00 UTC (the clinic's zone in tests is UTC).
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_morning(clinic_in_utc):
    # Bookings are written in UTC inside a 09:00-17:00 rota: the clinic's zone is pinned with the clock.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def therapist(db):
    return TherapistFactory()


@pytest.fixture
def patient(db):
    return PatientFactory()


def book(api_client, user, **body):
    api_client.force_authenticate(user)
    return api_client.post("/api/v1/appointments/", body, format="json")


def test_the_front_desk_books_an_assessment_and_the_patient_is_sent_a_confirmation(
    api_client, frontdesk, therapist, patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk,
                        kind="initial_assessment", start="2026-11-24T10:00:00+00:00")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "booked" and body["kind"] == "initial_assessment"
    assert body["end"].startswith("2026-11-24T11:00:00")  # 60 minutes for an initial assessment
    appointment = Appointment.objects.get()
    assert [(c.from_status, c.to_status, c.changed_by) for c in appointment.status_changes.all()] == [
        ("", "booked", frontdesk)
    ]
    assert OutboxEmail.objects.filter(kind="booking-confirmation", patient=patient).count() == 1


@pytest.mark.parametrize(
    ("start", "field", "message"),
    [
        ("2026-11-22T10:00:00+00:00", "start", "already passed"),
        ("2026-11-24T07:00:00+00:00", "start", "outside"),
        ("2026-11-24T16:45:00+00:00", "start", "outside"),  # 60 minutes would run past 17:00
        ("2026-11-28T10:00:00+00:00", "start", "outside"),  # a Saturday
    ],
)
def test_a_booking_the_rota_does_not_allow_is_refused_with_the_reason(
    api_client, frontdesk, therapist, patient, start, field, message
):
    response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk,
                    kind="initial_assessment", start=start)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Appointment.objects.exists() and not OutboxEmail.objects.exists()


def test_an_end_before_the_start_is_refused(api_client, frontdesk, therapist, patient):
    response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                    start="2026-11-24T10:00:00+00:00", end="2026-11-24T09:30:00+00:00")

    assert response.status_code == 400
    assert "after the start" in " ".join(response.json()["end"])


def test_a_booking_for_an_archived_patient_is_refused(api_client, frontdesk, therapist, patient):
    patient.archived_at = NOW
    patient.save()

    response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                    start="2026-11-24T10:00:00+00:00")

    assert response.status_code == 400
    assert "archived" in " ".join(response.json()["patient"])


def test_time_off_blocks_booking(api_client, frontdesk, therapist, patient):
    TimeOff.objects.create(therapist=therapist, start=TUESDAY_10 - timedelta(hours=1),
                           end=TUESDAY_10 + timedelta(hours=3))

    response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                    start="2026-11-24T10:00:00+00:00")

    assert response.status_code == 400
    assert "is off" in " ".join(response.json()["start"])


def test_overlaps_are_refused_for_the_therapist_and_for_the_patient_but_back_to_back_is_fine(
    api_client, frontdesk, therapist, patient
):
    other_therapist = TherapistFactory()
    AppointmentFactory(therapist=therapist, start=TUESDAY_10, kind=appointment_kind("follow_up"))

    same_therapist = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                          start="2026-11-24T10:15:00+00:00")
    assert same_therapist.status_code == 400
    assert "already has an appointment" in " ".join(same_therapist.json()["start"])

    first = book(api_client, frontdesk, patient=patient.pk, therapist=other_therapist.pk, kind="follow_up",
                 start="2026-11-24T11:00:00+00:00")
    assert first.status_code == 201
    patient_clash = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                         start="2026-11-24T11:15:00+00:00")
    assert "The patient already has an appointment" in " ".join(patient_clash.json()["start"])

    back_to_back = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                        start="2026-11-24T10:30:00+00:00")
    assert back_to_back.status_code == 201, back_to_back.json()


def test_only_a_clinic_manager_may_book_a_deliberate_overlap_with_a_reason(
    api_client, frontdesk, manager, therapist, patient
):
    AppointmentFactory(therapist=therapist, start=TUESDAY_10, kind=appointment_kind("follow_up"))
    body = {"patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up",
            "start": "2026-11-24T10:00:00+00:00", "overlap_reason": "Joint session with the student therapist"}

    refused = book(api_client, frontdesk, **body)
    assert refused.status_code == 400 and "overlap_reason" in refused.json()

    allowed = book(api_client, manager, **body)
    assert allowed.status_code == 201, allowed.json()
    assert Appointment.objects.get(pk=allowed.json()["id"]).overlap_reason.startswith("Joint session")


def test_cancel_needs_a_reason_and_frees_the_slot(api_client, frontdesk, therapist, patient):
    appointment = services.book_appointment(patient=patient, therapist=therapist, kind=appointment_kind("follow_up"),
                                            start=TUESDAY_10, booked_by=frontdesk)
    api_client.force_authenticate(frontdesk)

    no_reason = api_client.post(f"/api/v1/appointments/{appointment.pk}/cancel/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()

    cancelled = api_client.post(f"/api/v1/appointments/{appointment.pk}/cancel/",
                                {"reason": "Patient unwell"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    change = appointment.status_changes.last()
    assert (change.to_status, change.reason, change.changed_by) == ("cancelled", "Patient unwell", frontdesk)
    again = book(api_client, frontdesk, patient=PatientFactory().pk, therapist=therapist.pk, kind="follow_up",
                 start="2026-11-24T10:00:00+00:00")
    assert again.status_code == 201


def test_status_changes_follow_the_rules(api_client, frontdesk, therapist, patient):
    appointment = AppointmentFactory(therapist=therapist, patient=patient, start=NOW + timedelta(hours=2))
    api_client.force_authenticate(frontdesk)
    url = f"/api/v1/appointments/{appointment.pk}"

    early_no_show = api_client.post(f"{url}/no-show/", {}, format="json")
    assert early_no_show.status_code == 400 and "once it has started" in " ".join(early_no_show.json()["status"])
    assert api_client.post(f"{url}/check-in/").json()["status"] == "checked_in"
    assert api_client.post(f"{url}/check-in/").status_code == 400
    assert api_client.post(f"{url}/complete/").json()["status"] == "completed"
    assert list(appointment.status_changes.values_list("to_status", flat=True)) == ["checked_in", "completed"]


def test_rescheduling_moves_the_appointment_and_tells_the_patient(
    api_client, frontdesk, therapist, patient, django_capture_on_commit_callbacks
):
    appointment = services.book_appointment(patient=patient, therapist=therapist, kind=appointment_kind("follow_up"),
                                            start=TUESDAY_10, booked_by=frontdesk)
    api_client.force_authenticate(frontdesk)

    response = api_client.patch(f"/api/v1/appointments/{appointment.pk}/", {"start": "2026-11-25T14:00:00+00:00"},
                                format="json")

    assert response.status_code == 200, response.json()
    appointment.refresh_from_db()
    assert (appointment.start, appointment.end) == (datetime(2026, 11, 25, 14, tzinfo=UTC),
                                                    datetime(2026, 11, 25, 14, 30, tzinfo=UTC))
    assert OutboxEmail.objects.filter(kind="appointment-rescheduled", patient=patient).count() == 1


def test_a_recurring_series_books_one_row_per_occurrence_and_reports_clashes(
    api_client, frontdesk, therapist, patient
):
    AppointmentFactory(therapist=therapist, start=TUESDAY_10 + timedelta(weeks=2), kind=appointment_kind("follow_up"))
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/series/", {
        "patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up",
        "first_start": "2026-11-24T10:00:00+00:00", "occurrences": 6,
    }, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["booked"]) == 5
    assert [c["start"][:10] for c in body["clashes"]] == ["2026-12-08"]
    booked = Appointment.objects.filter(series=body["series"]).order_by("start")
    assert [a.start.date().isoformat() for a in booked] == [
        "2026-11-24", "2026-12-01", "2026-12-15", "2026-12-22", "2026-12-29"
    ]
    assert {a.status for a in booked} == {AppointmentStatus.BOOKED}


def test_a_series_keeps_the_wall_clock_time_across_a_clock_change(settings, frontdesk):
    settings.TIME_ZONE = "Europe/London"
    from django.utils import timezone

    with timezone.override("Europe/London"):
        first = datetime(2027, 3, 23, 10, 0, tzinfo=timezone.get_current_timezone())
        starts = services.series_starts(first, occurrences=2, interval_weeks=1)
        assert [timezone.localtime(s).hour for s in starts] == [10, 10]
        elapsed = starts[1].astimezone(UTC) - starts[0].astimezone(UTC)
        assert elapsed == timedelta(days=7, hours=-1)  # British Summer Time began on 28 March


@pytest.mark.postgres
def test_the_database_refuses_an_overlap_the_service_did_not_see(therapist, patient):
    AppointmentFactory(therapist=therapist, start=TUESDAY_10, kind=appointment_kind("follow_up"))

    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(therapist=therapist, start=TUESDAY_10 + timedelta(minutes=10),
                           kind=appointment_kind("follow_up"))


@pytest.mark.postgres
def test_a_constraint_violation_is_reported_as_the_same_field_error(therapist, patient, frontdesk, monkeypatch):
    AppointmentFactory(therapist=therapist, start=TUESDAY_10, kind=appointment_kind("follow_up"))
    # As if another booking landed between the service's check and its INSERT.
    monkeypatch.setattr(services, "booking_problems", lambda **kwargs: {})

    with pytest.raises(ValidationError) as refused:
        services.book_appointment(patient=patient, therapist=therapist, kind=appointment_kind("follow_up"),
                                  start=TUESDAY_10, booked_by=frontdesk)
    assert "already has an appointment" in refused.value.message_dict["start"][0]
    assert Appointment.objects.count() == 1


def test_a_non_manager_cannot_sneak_an_overlap_through_the_service(frontdesk, therapist, patient):
    with pytest.raises(ValidationError) as refused:
        services.book_appointment(patient=patient, therapist=therapist, kind=appointment_kind("follow_up"),
                                  start=TUESDAY_10, booked_by=UserFactory(role="therapist"), overlap_reason="why not")
    assert "overlap_reason" in refused.value.message_dict


def test_a_long_cancellation_reason_is_kept_whole_and_never_a_500(api_client, frontdesk, therapist, patient):
    appointment = services.book_appointment(patient=patient, therapist=therapist, kind=appointment_kind("follow_up"),
                                            start=TUESDAY_10, booked_by=frontdesk)
    api_client.force_authenticate(frontdesk)
    reason = "0" * 300  # found by API fuzzing: the history's change-reason column holds 100

    response = api_client.post(f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": reason}, format="json")

    assert response.status_code == 200
    assert appointment.status_changes.last().reason == reason


@pytest.mark.parametrize("url", ["/api/v1/waitlist/", "/api/v1/appointments/"])
def test_a_nul_character_in_a_slug_is_a_field_error_not_a_500(api_client, frontdesk, patient, url):
    api_client.force_authenticate(frontdesk)

    response = api_client.post(url, {"patient": patient.pk, "kind": "follow\x00up", "earliest": "2026-11-24",
                                     "latest": "2026-11-30", "therapist": 1, "start": "2026-11-24T10:00:00Z"},
                               format="json")

    assert response.status_code == 400 and "kind" in response.json()


def test_a_nul_character_in_a_patient_search_finds_nothing_rather_than_failing(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)

    assert api_client.get("/api/v1/patients/", {"q": "Ada\x00"}).status_code == 200


# ---------------------------------------------------------------------------- found by API fuzzing


def test_a_booking_ending_years_after_it_starts_is_refused_at_once(api_client, frontdesk, therapist, patient):
    # The working-hours check built every working day between start and end: seconds for one request.
    started = time.perf_counter()

    response = book(api_client, frontdesk, patient=patient.pk, therapist=therapist.pk, kind="follow_up",
                    start="2026-11-24T10:00:00+00:00", end="9999-12-30T10:00:00+00:00")

    assert time.perf_counter() - started < 2
    assert response.status_code == 400 and "working hours" in " ".join(response.json()["start"])


def test_a_refused_series_answers_as_the_schema_says(api_client, frontdesk):
    # The schema documented a 400 as the series result only; refused input answers field errors.
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/series/", {"occurrences": 0}, format="json")

    assert response.status_code == 400 and "patient" in response.json()
    assert_documented(served_schema(api_client), response, "POST", "/api/v1/series/")


@pytest.mark.postgres
def test_a_date_time_filter_with_any_offset_finds_the_same_instant(api_client, frontdesk, therapist):
    # PostgreSQL refuses offsets beyond 15:59, which Python and ISO 8601 allow.
    AppointmentFactory(therapist=therapist, start=TUESDAY_10)
    api_client.force_authenticate(frontdesk)

    response = api_client.get("/api/v1/appointments/", {"start__gte": "2026-11-24T09:44:00+23:45"})

    assert response.status_code == 200 and response.json()["count"] == 1
