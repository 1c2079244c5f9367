"""Each of the six events, caused through the real services, reaches a real receiver on loopback once, signed."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.billing import services as billing
from apps.billing.models import Charge, Coverage, Payer
from apps.prescriptions import services as prescriptions
from apps.scheduling import services as scheduling
from apps.visits import services as visits
from apps.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.conftest import PASSWORD
from tests.factories import ProgramFactory, appointment_kind

pytestmark = pytest.mark.django_db

NAME_FIELDS = ("first_name", "last_name", "name", "email", "phone", "subjective", "objective", "assessment")


def assert_carries_no_personal_data(payload: dict, patient) -> None:
    text = str(payload)
    assert not any(field in payload["data"] for field in NAME_FIELDS)
    assert patient.first_name not in text and patient.last_name not in text


MONDAY = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


@pytest.fixture
def monday(clinic_in_utc):
    """Monday 7 January 2030, 08:00 in the clinic (UTC): the rota (Mon-Fri 09:00-17:00) has room tomorrow."""
    with time_machine.travel(MONDAY, tick=True):
        yield MONDAY


def booked(patient, rota, by, *, hour: int = 10):
    return scheduling.book_appointment(patient=patient, therapist=rota, kind=appointment_kind(),
                                       start=MONDAY.replace(day=8, hour=hour), booked_by=by)


def test_a_booking_reaches_the_receiver_once_signed(monday, endpoint, receiver, patient, rota, frontdesk,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        appointment = booked(patient, rota, frontdesk)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and receiver.received == []  # nothing before the commit

    for callback in callbacks:
        callback()

    [item] = receiver.received
    assert receiver.bad_signatures == []
    assert item.webhook_id == delivery.webhook_id and item.path == "/hooks/hipclinic"
    assert item.payload == {"type": "appointment.booked", "timestamp": item.payload["timestamp"], "data": {
        "appointment_id": appointment.pk, "patient_id": patient.pk, "therapist_id": rota.pk,
        "start": "2030-01-08T10:00:00+00:00", "end": appointment.end.isoformat(), "status": "booked"}}
    assert_carries_no_personal_data(item.payload, patient)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1 and delivery.last_status_code == 204


def test_a_reschedule_and_a_cancellation_each_reach_the_receiver(monday, endpoint, receiver, patient, rota,
                                                                  frontdesk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = booked(patient, rota, frontdesk)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.reschedule_appointment(appointment=appointment, start=MONDAY.replace(day=8, hour=14),
                                          changed_by=frontdesk)
    with django_capture_on_commit_callbacks(execute=True):
        scheduling.cancel_appointment(appointment=appointment, cancelled_by=frontdesk, reason="Patient is unwell")

    assert receiver.events() == ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]
    moved, cancelled = receiver.received[1].payload["data"], receiver.received[2].payload["data"]
    assert moved["previous_start"] == "2030-01-08T10:00:00+00:00" and moved["start"] == "2030-01-08T14:00:00+00:00"
    assert cancelled["status"] == "cancelled" and cancelled["appointment_id"] == appointment.pk
    assert len({item.webhook_id for item in receiver.received}) == 3
    assert receiver.bad_signatures == []


def test_a_refused_booking_records_no_event(monday, endpoint, receiver, patient, rota, frontdesk,
                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        booked(patient, rota, frontdesk)
    with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True):
        booked(patient, rota, frontdesk)  # the same time again: an overlap

    assert receiver.events() == ["appointment.booked"]
    assert WebhookDelivery.objects.count() == 1


def test_an_event_rolled_back_with_its_change_is_never_sent(monday, endpoint, receiver, patient, rota, frontdesk,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        booked(patient, rota, frontdesk)
        transaction.set_rollback(True)

    assert WebhookDelivery.objects.count() == 0 and receiver.received == []


def test_activating_a_program_reaches_the_receiver(monday, endpoint, receiver, patient, therapist,
                                                   django_capture_on_commit_callbacks):
    program = ProgramFactory(patient=patient, therapist=therapist, exercises=("seated-knee-raise",))

    with django_capture_on_commit_callbacks(execute=True):
        prescriptions.activate_program(program=program, by=therapist)

    [item] = receiver.received
    program.refresh_from_db()
    assert item.payload["type"] == "program.activated"
    assert item.payload["data"] == {"program_id": program.pk, "patient_id": patient.pk, "therapist_id": therapist.pk,
                                    "activated_at": program.activated_at.isoformat()}
    assert_carries_no_personal_data(item.payload, patient)


def test_signing_a_note_and_issuing_its_invoice_reach_the_receiver(monday, endpoint, receiver, patient, therapist,
                                                                   plan_of_care, visit, frontdesk,
                                                                   django_capture_on_commit_callbacks):
    plan = plan_of_care()
    note = visits.start_note(appointment=visit(), author=therapist)
    with django_capture_on_commit_callbacks(execute=True):
        note = visits.sign_note(note=note, signer=therapist, password=PASSWORD)
    billing.set_coverage(coverage=Coverage(plan=plan, payer=Payer.objects.get(kind="self_pay")), by=therapist)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = billing.create_invoice(patient=patient, charges=[Charge.objects.get(note=note)], created_by=frontdesk)

    assert receiver.events() == ["visit_note.signed", "invoice.issued"]
    signed, issued = (item.payload["data"] for item in receiver.received)
    assert signed == {"visit_note_id": note.pk, "patient_id": patient.pk, "appointment_id": note.appointment_id,
                      "plan_of_care_id": plan.pk, "signed_by_id": therapist.pk,
                      "signed_at": note.signed_at.isoformat(), "status": "signed"}
    assert issued == {"invoice_id": invoice.pk, "number": invoice.number, "patient_id": patient.pk,
                      "issued_on": invoice.issued_on.isoformat()}
    for item in receiver.received:
        assert_carries_no_personal_data(item.payload, patient)
    assert receiver.bad_signatures == []


def test_an_endpoint_hears_only_the_events_it_chose(monday, endpoint, receiver, patient, rota, frontdesk,
                                                   django_capture_on_commit_callbacks):
    endpoint.events = ["appointment.cancelled"]
    endpoint.save()

    with django_capture_on_commit_callbacks(execute=True):
        appointment = booked(patient, rota, frontdesk)
        scheduling.cancel_appointment(appointment=appointment, cancelled_by=frontdesk, reason="Clinic closed")

    assert receiver.events() == ["appointment.cancelled"]


def test_an_inactive_endpoint_gets_nothing(monday, endpoint, receiver, patient, rota, frontdesk,
                                          django_capture_on_commit_callbacks):
    endpoint.is_active = False
    endpoint.save()

    with django_capture_on_commit_callbacks(execute=True):
        booked(patient, rota, frontdesk)

    assert WebhookDelivery.objects.count() == 0 and receiver.received == []


def test_two_endpoints_get_their_own_delivery_and_id(monday, endpoint, receiver, patient, rota, frontdesk, manager,
                                                    django_capture_on_commit_callbacks):
    from apps.webhooks import services
    from apps.webhooks.models import WebhookEndpoint

    other = services.save_endpoint(
        endpoint=WebhookEndpoint(url=receiver.url + "?copy=1", events=["appointment.booked"]), by=manager)
    other.secret = endpoint.secret  # one receiver checks both with one secret
    other.save()

    with django_capture_on_commit_callbacks(execute=True):
        booked(patient, rota, frontdesk)

    assert sorted(item.path for item in receiver.received) == ["/hooks/hipclinic", "/hooks/hipclinic?copy=1"]
    assert len({item.webhook_id for item in receiver.received}) == 2
