"""Failures are retried with the same webhook-id, 30 s, 1, 2, 4 ... min apart, for a day; then the endpoint is off."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apps.notifications.models import OutboxEmail
from apps.webhooks import services
from apps.webhooks.events import Event
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from apps.webhooks.tasks import send_webhook
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)


def record(django_capture_on_commit_callbacks, **data) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event=Event.APPOINTMENT_BOOKED, data={"appointment_id": 1, **data})
    return WebhookDelivery.objects.order_by("-pk").first()


def sweep_at(moment, django_capture_on_commit_callbacks) -> int:
    with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
        return services.dispatch_due()


def test_a_failed_delivery_is_sent_again_with_the_same_id(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.answers = [500]
    with time_machine.travel(NOON, tick=False):
        delivery = record(django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    assert delivery.send_after == NOON + timedelta(seconds=30)
    assert sweep_at(NOON + timedelta(seconds=29), django_capture_on_commit_callbacks) == 0  # not yet due

    assert sweep_at(NOON + timedelta(seconds=31), django_capture_on_commit_callbacks) == 1

    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == delivery.webhook_id
    assert first.timestamp != second.timestamp  # each attempt is signed at its own time
    assert receiver.bad_signatures == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2


def test_a_delivered_row_is_left_alone_when_its_task_runs_again(endpoint, receiver,
                                                                django_capture_on_commit_callbacks):
    delivery = record(django_capture_on_commit_callbacks)

    send_webhook.delay(delivery.pk)

    assert len(receiver.received) == 1


def test_retries_double_and_stop_a_day_after_the_event_then_the_endpoint_is_off(
        endpoint, receiver, manager, django_capture_on_commit_callbacks):
    UserFactory(role="clinic_manager", email="other-manager@example.org")
    UserFactory(role="therapist", email="therapist@example.org")  # not told: not a manager
    receiver.answers = [503] * 100
    with time_machine.travel(NOON, tick=False):
        delivery = record(django_capture_on_commit_callbacks)

    delays = []
    while True:
        delivery.refresh_from_db()
        if delivery.status != DeliveryStatus.PENDING:
            break
        delays.append(delivery.send_after - (delivery.last_attempt_at or NOON))
        sweep_at(delivery.send_after, django_capture_on_commit_callbacks)

    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == "HTTP 503"
    assert delays[:5] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert delivery.last_attempt_at == NOON + timedelta(hours=24)  # the last attempt, a day after the event
    assert delivery.attempts == len(receiver.received) == len(delays) + 1
    assert {item.webhook_id for item in receiver.received} == {delivery.webhook_id}
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at == NOON + timedelta(hours=24)
    assert "failed for 24 hours" in endpoint.disabled_reason
    notices = OutboxEmail.objects.filter(kind=services.KIND_ENDPOINT_DISABLED)
    assert sorted(notices.values_list("to_email", flat=True)) == sorted([manager.email, "other-manager@example.org"])
    assert all(endpoint.url in notice.body_text and "/admin/webhooks/webhookendpoint/" in notice.body_text
               for notice in notices)


def test_deliveries_waiting_for_a_disabled_endpoint_fail_without_a_request(endpoint, receiver,
                                                                          django_capture_on_commit_callbacks):
    receiver.answers = [500]
    with time_machine.travel(NOON, tick=False):
        delivery = record(django_capture_on_commit_callbacks)
    services.disable_endpoint(endpoint=endpoint, reason="tested")

    sweep_at(NOON + timedelta(minutes=1), django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_error == "endpoint disabled"
    assert len(receiver.received) == 1


def test_a_connection_refused_is_retried(manager, django_capture_on_commit_callbacks):
    from tests.realparts import free_port

    closed = WebhookEndpoint(url=f"http://127.0.0.1:{free_port()}/", events=["appointment.booked"])
    services.save_endpoint(endpoint=closed, by=manager)

    delivery = record(django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_error == "ConnectionRefusedError"


def test_the_sweep_takes_over_a_delivery_whose_worker_died(endpoint, receiver, django_capture_on_commit_callbacks):
    with time_machine.travel(NOON, tick=False), django_capture_on_commit_callbacks(execute=False):
        services.record_event(event=Event.APPOINTMENT_BOOKED, data={"appointment_id": 1})  # its task is lost
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENDING)  # claimed, then killed

    assert sweep_at(NOON + timedelta(seconds=10), django_capture_on_commit_callbacks) == 0  # the lease holds
    assert sweep_at(NOON + timedelta(minutes=2), django_capture_on_commit_callbacks) == 1

    assert [item.webhook_id for item in receiver.received] == [delivery.webhook_id]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_redirect_is_not_followed(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.answers = [302]

    delivery = record(django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_error == "HTTP 302"
    assert len(receiver.received) == 1
