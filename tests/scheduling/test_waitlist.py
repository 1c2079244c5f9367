"""Waitlist: a cancelled slot is offered by e-mail; the first to accept gets it."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from apps.notifications.models import OutboxEmail
from apps.scheduling import services
from apps.scheduling.models import Appointment, WaitlistEntry, WaitlistOffer
from tests.factories import PatientFactory, TherapistFactory, appointment_kind

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_morning(clinic_in_utc):
    # Bookings are written in UTC inside a 09:00-17:00 rota: the clinic's zone is pinned with the clock.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def diary(db, frontdesk):
    """Tuesday 10:00 is booked; two waitlisted patients hold later appointments and want earlier."""
    therapist = TherapistFactory()
    kind = appointment_kind("follow_up")
    booked = services.book_appointment(patient=PatientFactory(), therapist=therapist, kind=kind, start=TUESDAY_10,
                                       booked_by=frontdesk, notify=False)
    waiting = []
    for n in range(2):
        patient = PatientFactory()
        later = services.book_appointment(patient=patient, therapist=therapist, kind=kind,
                                          start=TUESDAY_10 + timedelta(days=7, hours=n), booked_by=frontdesk,
                                          notify=False)
        waiting.append(services.add_to_waitlist(patient=patient, kind=kind, earliest=date(2026, 11, 23),
                                                latest=date(2026, 12, 5), created_by=frontdesk,
                                                current_appointment=later))
    return therapist, booked, waiting


def offer_link(entry: WaitlistEntry) -> str:
    email = OutboxEmail.objects.get(kind="waitlist-offer", patient=entry.patient)
    return re.search(r"http://[^/]+(/booking/offer/[^/\s]+/)", email.body_text).group(1)


def test_a_cancellation_offers_the_slot_to_each_waitlisted_patient_it_suits(
    diary, frontdesk, django_capture_on_commit_callbacks
):
    _therapist, booked, waiting = diary
    outsider = services.add_to_waitlist(patient=PatientFactory(), kind=appointment_kind("reassessment"),
                                        earliest=date(2026, 11, 23), latest=date(2026, 12, 5), created_by=frontdesk)

    services.cancel_appointment(appointment=booked, cancelled_by=frontdesk, reason="Patient unwell")

    offered = set(WaitlistOffer.objects.values_list("entry_id", flat=True))
    assert offered == {entry.pk for entry in waiting}
    assert outsider.pk not in offered  # another kind of appointment
    assert OutboxEmail.objects.filter(kind="waitlist-offer").count() == 2


def test_the_first_to_accept_gets_the_slot_and_the_other_sees_it_has_gone(client, diary, frontdesk):
    _therapist, booked, (first, second) = diary
    services.cancel_appointment(appointment=booked, cancelled_by=frontdesk, reason="Patient unwell")
    first_link, second_link = offer_link(first), offer_link(second)

    assert "An earlier appointment is free" in client.get(first_link).content.decode()
    accepted = client.post(first_link)
    assert accepted.status_code == 200 and "It's yours" in accepted.content.decode()
    moved = Appointment.objects.get(pk=first.current_appointment_id)
    assert moved.start == TUESDAY_10 and moved.status == "booked"

    late = client.post(second_link)
    assert late.status_code == 409 and "this slot has gone" in late.content.decode()
    assert Appointment.objects.get(pk=second.current_appointment_id).start > TUESDAY_10
    assert Appointment.objects.filter(start=TUESDAY_10, status="booked").count() == 1


def test_a_tampered_offer_link_opens_nothing(client, diary, frontdesk):
    _therapist, booked, (first, _second) = diary
    services.cancel_appointment(appointment=booked, cancelled_by=frontdesk, reason="Patient unwell")

    response = client.post(offer_link(first)[:-3] + "xx/")

    assert response.status_code == 404
    assert Appointment.objects.get(pk=first.current_appointment_id).start > TUESDAY_10


def test_the_waitlist_api_refuses_a_window_that_ends_before_it_starts(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/waitlist/", {
        "patient": PatientFactory().pk, "kind": "follow_up", "earliest": "2026-12-10", "latest": "2026-12-01",
    }, format="json")

    assert response.status_code == 400 and "latest" in response.json()
