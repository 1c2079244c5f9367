"""The feed's secret address: made, shown once, replaced and revoked; what a wrong one gets."""

import logging
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from apps.accounts import services as accounts
from apps.calendars import services, tokens
from apps.calendars.models import CalendarFeed
from tests.factories import TherapistFactory, UserFactory

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_morning(clinic_in_utc):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def therapist(db):
    return TherapistFactory()


def url(token: str) -> str:
    return f"/calendars/feed/{token}.ics"


def test_only_a_prefix_and_a_hash_of_the_token_are_stored(therapist):
    feed, token = services.issue_feed(user=therapist.user, by=therapist.user)

    stored = CalendarFeed.objects.filter(pk=feed.pk).values().get()
    assert token not in {str(value) for value in stored.values()}
    assert stored["prefix"] == token[:10] and stored["token_hash"] == tokens.hash_of(token) != token
    assert tokens.well_formed(token) and len(token) == 43


def test_a_revoked_address_answers_404(client, therapist):
    feed, token = services.issue_feed(user=therapist.user, by=therapist.user)
    assert client.get(url(token)).status_code == 200

    services.revoke_feed(feed=feed, by=therapist.user)

    assert client.get(url(token)).status_code == 404
    with pytest.raises(ValidationError, match="already revoked"):
        services.revoke_feed(feed=feed, by=therapist.user)


def test_a_new_address_replaces_the_old_one(client, therapist):
    old_feed, old = services.issue_feed(user=therapist.user, by=therapist.user)
    new_feed, new = services.issue_feed(user=therapist.user, by=therapist.user)

    assert client.get(url(old)).status_code == 404
    assert client.get(url(new)).status_code == 200
    old_feed.refresh_from_db()
    assert old_feed.revoked_by == therapist.user and new_feed.is_open
    assert CalendarFeed.objects.open().filter(user=therapist.user).count() == 1


@pytest.mark.parametrize("bad", [
    "x", "a" * 42, "a" * 44, "a" * 43, "a" * 5000, "%00" * 15, "..%2F..%2Fetc%2Fpasswd", "Zm9v+YmFy" * 5,
    "%E2%82%AC" * 43, "' OR 1=1 --",
])
def test_a_bad_token_answers_404_never_a_server_error(client, therapist, bad):
    services.issue_feed(user=therapist.user, by=therapist.user)

    assert client.get(f"/calendars/feed/{bad}.ics").status_code == 404


def test_a_token_with_the_right_prefix_and_a_wrong_tail_answers_404(client, therapist):
    _feed, token = services.issue_feed(user=therapist.user, by=therapist.user)
    wrong = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]

    assert client.get(url(wrong)).status_code == 404


def test_the_feed_stops_when_its_holder_is_deactivated_or_no_longer_a_therapist(client, therapist, manager):
    _feed, token = services.issue_feed(user=therapist.user, by=therapist.user)
    user = therapist.user

    user.is_active = False
    accounts.save_staff(user=user, role="therapist", changed_by=manager)
    assert client.get(url(token)).status_code == 404

    user.is_active = True
    accounts.save_staff(user=user, role="front_desk", changed_by=manager)
    assert client.get(url(token)).status_code == 404


def test_only_therapists_are_given_a_feed(db):
    for role in ("front_desk", "assistant", "clinic_manager", None):
        user = UserFactory(role=role)
        with pytest.raises(ValidationError):
            services.issue_feed(user=user, by=user)
    assert not CalendarFeed.objects.exists()


def test_the_address_works_without_a_session_and_sets_no_cookie(client, therapist):
    _feed, token = services.issue_feed(user=therapist.user, by=therapist.user)

    response = client.get(url(token))

    assert response.status_code == 200 and not response.cookies
    assert response["X-Robots-Tag"] == "noindex, nofollow"


# ---------------------------------------------------------------------------- the therapist's page


def test_a_therapist_creates_a_feed_and_sees_its_address_once(client, therapist):
    client.force_login(therapist.user)
    assert "You have no calendar feed." in client.get("/calendars/").content.decode()

    made = client.post("/calendars/new/", follow=True)

    assert made.redirect_chain == [("/calendars/", 302)] and "no-store" in made["Cache-Control"]
    feed = CalendarFeed.objects.open().get(user=therapist.user)
    page = made.content.decode()
    start = page.index("http://", page.index('id="feed-url"'))
    address = page[start:page.index('"', start)]
    assert address.startswith("http://") and f"/calendars/feed/{feed.prefix}" in address
    assert client.get(address.removeprefix("http://127.0.0.1:8000")).status_code == 200
    again = client.get("/calendars/").content.decode()
    assert feed.prefix in again and address not in again


def test_a_therapist_replaces_and_revokes_from_the_page(client, therapist):
    _feed, old = services.issue_feed(user=therapist.user, by=therapist.user)
    client.force_login(therapist.user)

    replaced = client.post("/calendars/new/", follow=True).content.decode()
    assert old not in replaced and client.get(url(old)).status_code == 404
    new_feed = CalendarFeed.objects.open().get(user=therapist.user)

    revoked = client.post("/calendars/revoke/", follow=True).content.decode()
    assert "Your calendar feed is revoked" in revoked and "You have no calendar feed." in revoked
    assert not CalendarFeed.objects.open().exists() and not CalendarFeed.objects.get(pk=new_feed.pk).is_open
    nothing = client.post("/calendars/revoke/", follow=True).content.decode()
    assert "You have no calendar feed to revoke." in nothing


def test_the_page_forms_need_a_csrf_token(therapist):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(therapist.user)

    assert client.post("/calendars/new/").status_code == 403
    assert not CalendarFeed.objects.exists()


# ---------------------------------------------------------------------------- the manager, in the admin


def test_a_manager_revokes_a_therapists_feed_in_the_admin(client, therapist, manager):
    feed, token = services.issue_feed(user=therapist.user, by=therapist.user)
    client.force_login(manager)

    listing = client.get("/admin/calendars/calendarfeed/").content.decode()
    assert feed.prefix in listing and token not in listing
    done = client.post("/admin/calendars/calendarfeed/", {"action": "revoke_feed", "_selected_action": [feed.pk]},
                       follow=True)

    assert "Calendar feeds revoked: 1." in done.content.decode()
    feed.refresh_from_db()
    assert feed.revoked_by == manager
    client.logout()
    assert client.get(url(token)).status_code == 404



def test_no_token_reaches_the_logs(client, therapist, caplog):
    caplog.set_level(logging.INFO)
    feed, token = services.issue_feed(user=therapist.user, by=therapist.user)
    assert client.get(url(token)).status_code == 200
    wrong = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert client.get(url(wrong)).status_code == 404
    services.revoke_feed(feed=feed, by=therapist.user)
    assert client.get(url(token)).status_code == 404

    lines = [logging.Formatter("%(name)s %(message)s").format(record) for record in caplog.records]
    assert any("/calendars/feed/<str:token>.ics 404" in line for line in lines), lines
    for secret in (token, wrong, token[:10]):
        assert all(secret not in line for line in lines), secret
