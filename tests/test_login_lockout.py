"""Guessing passwords locks the account out (for that address) for a while; the API too."""

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.throttling import ScopedRateThrottle

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_five_wrong_passwords_lock_the_login_even_for_the_right_one_until_the_cooloff(client, frontdesk, settings):
    with time_machine.travel("2026-11-23 09:00 +0000", tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/accounts/login/", {"username": "frontdesk", "password": "guess"})

        locked = client.post("/accounts/login/", {"username": "frontdesk", "password": PASSWORD})
        assert locked.status_code == 429
        assert "Too many failed sign-ins" in locked.content.decode()
        assert "_auth_user_id" not in client.session

        traveller.shift(16 * 60)
        after = client.post("/accounts/login/", {"username": "frontdesk", "password": PASSWORD})
        assert after.status_code == 302 and client.session["_auth_user_id"] == str(frontdesk.pk)


def test_the_lockout_is_per_address_so_nobody_can_lock_a_colleague_out_from_elsewhere(client, frontdesk, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "frontdesk", "password": "guess"}, REMOTE_ADDR="203.0.113.9")

    from_the_desk = client.post("/accounts/login/", {"username": "frontdesk", "password": PASSWORD},
                                REMOTE_ADDR="192.0.2.10")

    assert from_the_desk.status_code == 302


def test_the_api_token_endpoint_is_locked_out_too(api_client, frontdesk, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": "guess"}, format="json")

    response = api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert "token" not in response.json()


def test_the_token_rate_limit_holds_when_the_client_names_a_new_forwarded_address_each_time(
    api_client, frontdesk, settings
):
    cache.clear()  # the throttle counts of earlier tests
    allowed, _period = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"])

    statuses = [
        api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": PASSWORD}, format="json",
                        HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(allowed + 1)
    ]

    assert statuses == [200] * allowed + [429]
