"""A booking made while the broker is down is saved; its confirmation follows the broker's return."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications import services as outbox
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.scheduling.models import Appointment
from tests import realparts as real
from tests.factories import PatientFactory, TherapistFactory, UserFactory
from tests.notifications.test_outbox_real_parts import broker_unreachable

pytestmark = [pytest.mark.redis, pytest.mark.worker, pytest.mark.smtp]


def test_a_booking_saves_while_the_broker_is_down_and_its_confirmation_goes_out_after(
    transactional_db, api_client, monkeypatch, smtp_relay
):
    from datetime import time as clock

    therapist = TherapistFactory(hours=[(day, clock(0), clock(23, 45)) for day in range(7)])
    patient = PatientFactory(email="rosa@example.org")
    api_client.force_authenticate(UserFactory(role="front_desk"))
    start = (timezone.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    with real.celery_worker(EMAIL_URL=smtp_relay.email_url):
        with broker_unreachable(monkeypatch):
            response = api_client.post("/api/v1/appointments/", {
                "patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up",
                "start": start.isoformat(),
            }, format="json")
        assert response.status_code == 201, response.json()
        assert Appointment.objects.filter(patient=patient, start=start).exists()
        confirmation = OutboxEmail.objects.get(kind="booking-confirmation", patient=patient)
        assert confirmation.status == OutboxStatus.PENDING and smtp_relay.messages == []

        outbox.dispatch_due()  # beat's sweep, once the broker is back
        message = real.wait_for(lambda: smtp_relay.messages and smtp_relay.messages[0], message="the confirmation")
    assert message["To"] == "rosa@example.org"
    assert any(part.get_content_type() == "text/calendar" for part in message.walk())
    assert len(smtp_relay.messages) == 1
