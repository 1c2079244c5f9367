"""At least once through a real Celery worker: a forced retry and a worker killed mid-delivery, same webhook-id."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.scheduling import services as scheduling
from apps.webhooks import services
from apps.webhooks.models import DeliveryStatus, WebhookDelivery
from tests import realparts as real
from tests.factories import appointment_kind

pytestmark = [pytest.mark.redis, pytest.mark.worker]

WORKER_ENV = {"WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "1", "WEBHOOKS_ALLOW_HTTP": "1", "WEBHOOKS_LEASE_SECONDS": "5"}


def status_of(delivery) -> str:
    return WebhookDelivery.objects.values_list("status", flat=True).get(pk=delivery.pk)


def next_weekday_at_ten() -> datetime:
    day = timezone.now().astimezone(UTC).date() + timedelta(days=7)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


def test_a_booking_is_delivered_by_a_real_worker_and_retried_with_the_same_id(
        transactional_db, clinic_in_utc, endpoint, receiver, patient, rota, frontdesk):
    receiver.answers = [500]
    with real.celery_worker(**WORKER_ENV):
        with transaction.atomic():
            scheduling.book_appointment(patient=patient, therapist=rota, kind=appointment_kind(),
                                        start=next_weekday_at_ten(), booked_by=frontdesk)
        delivery = WebhookDelivery.objects.get()
        real.wait_for(lambda: WebhookDelivery.objects.filter(pk=delivery.pk, attempts=1,
                                                             status=DeliveryStatus.PENDING).exists(),
                      message="the first attempt (answered 500)")
        # Forced: the retry is due now rather than in 30 s; the sweep hands it to the worker.
        WebhookDelivery.objects.filter(pk=delivery.pk).update(send_after=timezone.now())
        assert services.dispatch_due() == 1
        real.wait_for(lambda: status_of(delivery) == DeliveryStatus.DELIVERED, message="the retry")

    assert [item.payload["type"] for item in receiver.received] == ["appointment.booked"] * 2
    assert {item.webhook_id for item in receiver.received} == {delivery.webhook_id}
    assert receiver.bad_signatures == []


def test_a_delivery_whose_worker_is_killed_is_sent_again_with_the_same_id(transactional_db, settings, endpoint,
                                                                         receiver):
    settings.WEBHOOKS_LEASE_SECONDS = 5  # the sweep here and the workers agree on the lease
    receiver.hold.set()
    with real.celery_worker(**WORKER_ENV) as first:
        with transaction.atomic():
            services.record_event(event="invoice.issued", data={"invoice_id": 1})
        real.wait_for(lambda: receiver.received, message="the worker's request to reach the receiver")
        first.kill()  # kill -9 while the receiver holds the request: the row stays claimed
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.SENDING
    receiver.hold.clear()
    receiver.release.set()

    with real.celery_worker(**WORKER_ENV):
        real.wait_for(lambda: services.dispatch_due() or status_of(delivery) == DeliveryStatus.DELIVERED,
                      timeout=60, interval=0.5, message="the sweep to take over once the lease lapsed")
        real.wait_for(lambda: status_of(delivery) == DeliveryStatus.DELIVERED, timeout=60, message="the delivery")

    assert [item.webhook_id for item in receiver.received] == [delivery.webhook_id] * 2
    assert receiver.bad_signatures == []
