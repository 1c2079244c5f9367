"""The admin: managers register endpoints (form errors for bad input), see the secret, read the log, re-send."""

import pytest
from django.test import override_settings

from apps.webhooks import services
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

ADD = "/admin/webhooks/webhookendpoint/add/"
LOG = "/admin/webhooks/webhookdelivery/"


def form(url, events, **extra):
    return {"url": url, "description": "Registry", "events": events, "is_active": "on", **extra}


def test_a_manager_registers_an_endpoint_and_sees_its_secret(client, manager):
    client.force_login(manager)

    response = client.post(ADD, form("https://8.8.8.8/hook", ["appointment.booked", "visit_note.signed"]))

    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["appointment.booked", "visit_note.signed"] and endpoint.created_by == manager
    page = client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in page


@pytest.mark.parametrize(("url", "events", "error"), [
    ("http://8.8.8.8/hook", ["appointment.booked"], "Only https:// URLs are allowed."),
    ("https://127.0.0.1/hook", ["appointment.booked"], "public addresses only"),
    ("https://8.8.8.8/hook", ["appointment.deleted"], "Select a valid choice"),
    ("https://8.8.8.8/hook", [], "This field is required."),
    ("not a url", ["appointment.booked"], "Only https:// URLs are allowed."),
])
@override_settings(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=False, WEBHOOKS_ALLOW_HTTP=False)
def test_bad_input_is_a_form_error(client, manager, url, events, error):
    client.force_login(manager)

    response = client.post(ADD, form(url, events))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("role", ["front_desk", "therapist", "assistant"])
def test_other_roles_cannot_register_or_read_endpoints(client, role, endpoint):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role=role))

    assert client.post(ADD, form("https://8.8.8.8/hook", ["appointment.booked"])).status_code == 403
    assert client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").status_code == 403
    assert client.get(LOG).status_code == 403
    assert WebhookEndpoint.objects.count() == 1


def test_the_resend_button_sends_the_same_delivery_again(client, manager, endpoint, receiver,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 7})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, last_error="HTTP 500")
    client.force_login(manager)
    assert client.get(LOG).status_code == 200
    assert delivery.webhook_id in client.get(f"{LOG}{delivery.pk}/change/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(LOG, {"action": "resend", "_selected_action": [delivery.pk]})

    assert response.status_code == 302
    assert [item.webhook_id for item in receiver.received] == [delivery.webhook_id] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1 and delivery.last_error == ""


def test_a_delivery_of_a_disabled_endpoint_is_not_resent(manager, endpoint, receiver,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 7})
    services.disable_endpoint(endpoint=endpoint, reason="tested")

    assert services.resend(delivery_ids=WebhookDelivery.objects.values_list("pk", flat=True), by=manager) == 0


def test_the_resend_button_on_a_deliverys_page(client, manager, endpoint, receiver,
                                               django_capture_on_commit_callbacks):
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 7})
    delivery = WebhookDelivery.objects.get()
    client.force_login(manager)
    assert 'name="_resend"' not in client.get(f"{LOG}{delivery.pk}/change/").content.decode()  # still retrying
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    page = client.get(f"{LOG}{delivery.pk}/change/").content.decode()
    assert 'name="_resend"' in page and 'name="_save"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{LOG}{delivery.pk}/change/", {"_resend": "Re-send"})

    assert response.status_code == 302
    assert [item.webhook_id for item in receiver.received] == [delivery.webhook_id] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_saving_a_deliverys_page_changes_nothing(client, manager, endpoint, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        services.record_event(event="appointment.booked", data={"appointment_id": 7})
    delivery = WebhookDelivery.objects.get()
    client.force_login(manager)

    client.post(f"{LOG}{delivery.pk}/change/", {"status": "delivered", "body": "{}"})

    assert WebhookDelivery.objects.get().body == delivery.body
    assert WebhookDelivery.objects.get().status == DeliveryStatus.PENDING
