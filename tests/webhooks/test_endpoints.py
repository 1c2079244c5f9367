"""Registering endpoints: HTTPS only, never a loopback or private address (SSRF), known events; managers only."""

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from apps.webhooks import services
from apps.webhooks.addresses import is_public
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PRODUCTION = {"WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": False, "WEBHOOKS_ALLOW_HTTP": False}


def register(manager, url, events=("appointment.booked",)):
    return services.save_endpoint(endpoint=WebhookEndpoint(url=url, events=list(events)), by=manager)


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook", "https://192.168.0.10/hook",
    "https://172.16.5.4/hook", "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook",
    "https://[fe80::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://0.0.0.0/hook", "https://100.64.0.1/hook",
    "https://240.0.0.1/hook",
])
@override_settings(**PRODUCTION)
def test_an_endpoint_on_a_loopback_private_or_reserved_address_is_refused(manager, url):
    with pytest.raises(ValidationError) as refused:
        register(manager, url)

    assert "public addresses only" in refused.value.message_dict["url"][0]
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize(("url", "message"), [
    ("http://203.0.113.9/hook", "Only https:// URLs are allowed."),
    ("ftp://203.0.113.9/hook", "Only https:// URLs are allowed."),
    ("https://user:pw@203.0.113.9/hook", "Put no user name or password in the URL"),
    ("https:///hook", "Enter a valid URL."),
    ("https://203.0.113.9:99999/hook", "Enter a valid URL."),
    ("https://no-such-host.invalid/hook", "does not resolve"),
])
@override_settings(**PRODUCTION)
def test_a_malformed_or_plain_http_url_is_refused(manager, url, message):
    with pytest.raises(ValidationError) as refused:
        register(manager, url)

    assert message in refused.value.message_dict["url"][0]


@override_settings(**PRODUCTION)
def test_a_public_https_address_is_accepted_with_a_secret_made_for_it(manager):
    endpoint = register(manager, "https://8.8.8.8/hooks", events=["invoice.issued", "appointment.booked"])

    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.events == ["appointment.booked", "invoice.issued"]  # in the documented order
    assert endpoint.created_by == manager


@pytest.mark.parametrize(("events", "message"), [
    (["appointment.deleted"], "Unknown event: appointment.deleted"),
    ([], "Choose at least one event."),
])
def test_an_unknown_or_missing_event_is_refused(manager, events, message):
    with pytest.raises(ValidationError) as refused:
        register(manager, "https://8.8.8.8/hooks", events=events)

    assert message in refused.value.message_dict["events"][0]


def test_a_private_address_is_refused_again_at_delivery(endpoint, receiver, django_capture_on_commit_callbacks):
    # Registered while allowed (a name that pointed outside), then delivered to in production.
    with override_settings(**PRODUCTION), django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 1})

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith("refused: Only https:// URLs")
    assert receiver.received == []


def test_loopback_is_refused_at_delivery_over_https_too(manager, django_capture_on_commit_callbacks):
    endpoint = register(manager, "https://127.0.0.1:9/hook")

    with override_settings(**PRODUCTION), django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 1})

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert "public addresses only" in delivery.last_error


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("127.0.0.2", False), ("10.0.0.1", False),
    ("::ffff:10.0.0.1", False), ("fd00::1", False), ("224.0.0.1", False), ("198.18.0.1", False),
])
def test_is_public(address, public):
    assert is_public(address) is public


def test_a_secret_can_be_rotated(endpoint, manager):
    old = endpoint.secret

    services.rotate_secret(endpoint=endpoint, by=manager)

    assert endpoint.secret != old and WebhookEndpoint.objects.get().secret == endpoint.secret


def test_turning_an_endpoint_back_on_clears_why_it_was_off(endpoint, manager):
    services.disable_endpoint(endpoint=endpoint, reason="tested")
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "tested"

    endpoint.is_active = True
    services.save_endpoint(endpoint=endpoint, by=manager)

    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None and endpoint.disabled_reason == ""


def test_only_managers_hold_the_webhook_permissions():
    for role in ("front_desk", "therapist", "assistant"):
        user = UserFactory(role=role)
        assert not any(user.has_perm(f"webhooks.{action}_{model}") for action in ("view", "add", "change", "delete")
                       for model in ("webhookendpoint", "webhookdelivery"))
    manager = UserFactory(role="clinic_manager")
    assert manager.has_perms(["webhooks.view_webhookendpoint", "webhooks.add_webhookendpoint",
                              "webhooks.change_webhookendpoint", "webhooks.view_webhookdelivery",
                              "webhooks.change_webhookdelivery"])
    assert not manager.has_perm("webhooks.delete_webhookendpoint")
