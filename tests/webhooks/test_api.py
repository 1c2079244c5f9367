"""``/api/v1/webhook-endpoints/``: managers register and change endpoints; bad input is a 400 by field."""

import pytest
from django.test import override_settings

from apps.webhooks.models import WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook-endpoints/"
PRODUCTION = {"WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": False, "WEBHOOKS_ALLOW_HTTP": False}


@pytest.fixture
def as_manager(api_client, manager):
    api_client.force_authenticate(manager)
    return api_client


@override_settings(**PRODUCTION)
def test_a_manager_registers_an_endpoint_and_gets_its_secret(as_manager, manager):
    response = as_manager.post(URL, {"url": "https://8.8.8.8/hook", "events": ["invoice.issued"],
                                     "description": "Registry"}, format="json")

    assert response.status_code == 201, response.json()
    endpoint = WebhookEndpoint.objects.get()
    assert response.json()["secret"] == endpoint.secret and endpoint.secret.startswith("whsec_")
    assert endpoint.created_by == manager and endpoint.events == ["invoice.issued"]
    assert as_manager.get(URL).json()["results"][0]["id"] == endpoint.pk


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"url": "http://8.8.8.8/hook", "events": ["invoice.issued"]}, "url", "Only https:// URLs are allowed."),
    ({"url": "https://127.0.0.1/hook", "events": ["invoice.issued"]}, "url", "public addresses only"),
    ({"url": "https://169.254.169.254/", "events": ["invoice.issued"]}, "url", "public addresses only"),
    ({"url": "https://8.8.8.8/hook", "events": ["invoice.paid"]}, "events", "is not a valid choice"),
    ({"url": "https://8.8.8.8/hook", "events": []}, "events", "may not be empty"),
    ({"url": "https://8.8.8.8/hook"}, "events", "required"),
])
@override_settings(**PRODUCTION)
def test_bad_input_is_a_400_naming_the_field(as_manager, body, field, message):
    response = as_manager.post(URL, body, format="json")

    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert WebhookEndpoint.objects.count() == 0


def test_a_manager_turns_an_endpoint_off_and_changes_its_events(as_manager, endpoint):
    response = as_manager.patch(f"{URL}{endpoint.pk}/", {"is_active": False, "events": ["appointment.booked"]},
                                format="json")

    assert response.status_code == 200, response.json()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.events == ["appointment.booked"]


@override_settings(**PRODUCTION)
def test_a_change_to_a_private_address_is_refused(as_manager):
    endpoint = WebhookEndpoint.objects.create(url="https://8.8.8.8/hook", events=["invoice.issued"], secret="whsec_x",
                                              created_by=UserFactory(role="clinic_manager"))

    response = as_manager.patch(f"{URL}{endpoint.pk}/", {"url": "https://10.0.0.8/hook"}, format="json")

    assert response.status_code == 400 and "public addresses only" in response.json()["url"][0]
    assert WebhookEndpoint.objects.get().url == "https://8.8.8.8/hook"


@pytest.mark.parametrize("role", ["front_desk", "therapist", "assistant"])
def test_other_roles_get_403(api_client, role, endpoint):
    api_client.force_authenticate(UserFactory(role=role))

    assert api_client.get(URL).status_code == 403
    assert api_client.get(f"{URL}{endpoint.pk}/").status_code == 403
    assert api_client.post(URL, {"url": "https://8.8.8.8/", "events": ["invoice.issued"]}, format="json"
                           ).status_code == 403


def test_endpoints_are_never_deleted(as_manager, endpoint):
    assert as_manager.delete(f"{URL}{endpoint.pk}/").status_code == 403  # nobody holds the delete permission
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
