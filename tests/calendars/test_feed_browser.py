"""A therapist makes their calendar feed in a real browser (Chromium), copies its address with the
Copy button, and the copied address serves their appointments as iCalendar."""

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from apps.calendars.models import CalendarFeed
from tests.conftest import sign_in
from tests.factories import AppointmentFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_therapist_creates_a_feed_and_copies_its_address(page, live_server, settings, therapist):
    settings.SITE_URL = live_server.url  # the page builds the address from the site's own URL
    mine = TherapistFactory(user=therapist)
    appointment = AppointmentFactory(therapist=mine, start=timezone.now() + timedelta(days=2))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    sign_in(page, "therapist")
    page.get_by_role("link", name="Your calendar feed").click()
    page.wait_for_url("**/calendars/")
    assert page.get_by_test_id("feed-status").inner_text() == "You have no calendar feed."
    page.get_by_role("button", name="Create my feed address").click()
    page.get_by_test_id("copy-feed-url").click()
    page.get_by_role("button", name="Copied").wait_for()

    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.get_by_test_id("feed-url").input_value()
    feed = CalendarFeed.objects.get(user=therapist)
    assert copied.startswith(f"{live_server.url}/calendars/feed/{feed.prefix}") and copied.endswith(".ics")

    answer = page.context.request.get(copied)
    assert answer.status == 200 and answer.headers["content-type"] == "text/calendar; charset=utf-8"
    events = Calendar.from_ical(answer.body()).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == [f"{appointment.kind.name} · {appointment.patient.record_number}"]

    page.reload()  # the address is never shown again, and no new one is made
    assert page.get_by_test_id("feed-url").count() == 0
    assert feed.prefix in page.get_by_test_id("feed-status").inner_text()
    assert CalendarFeed.objects.filter(user=therapist).count() == 1
    assert violations == []  # the Copy button's script is a file, as the policy wants
