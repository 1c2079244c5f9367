"""A therapist's calendar feed: what calendar apps read, and how it follows the schedule."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from apps.calendars import services
from apps.calendars.ical import event_uid
from apps.scheduling import services as scheduling
from tests.factories import PatientFactory, ReferralFactory, TherapistFactory, UserFactory, appointment_kind

# Monday 23 November 2026, 08:00 UTC; the clinic's zone is pinned to UTC, the rota is 09:00-17:00.
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_morning(clinic_in_utc):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def therapist(db):
    return TherapistFactory()


@pytest.fixture
def desk(db):
    return UserFactory(role="front_desk")


def subscribe(user) -> str:
    _feed, token = services.issue_feed(user=user, by=user)
    return f"/calendars/feed/{token}.ics"


def read(client, url: str) -> dict:
    """The feed's events by UID, after checking that the icalendar library parses it."""
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def book(therapist, desk, start=TUESDAY_10, patient=None, kind="follow_up"):
    return scheduling.book_appointment(patient=patient or PatientFactory(), therapist=therapist,
                                       kind=appointment_kind(kind), start=start, booked_by=desk)


def only(events: dict):
    assert len(events) == 1, events
    return next(iter(events.values()))


def test_the_feed_lists_the_therapists_appointments_in_utc_with_kind_and_record_number(client, therapist, desk):
    appointment = book(therapist, desk)
    url = subscribe(therapist.user)

    event = only(read(client, url))

    assert event.decoded("DTSTART") == TUESDAY_10 and event.decoded("DTEND") == TUESDAY_10 + timedelta(minutes=30)
    assert b"DTSTART:20261124T100000Z" in event.to_ical()  # UTC times: no VTIMEZONE needed
    assert str(event["SUMMARY"]) == f"{appointment.kind.name} · {appointment.patient.record_number}"
    assert str(event["STATUS"]) == "CONFIRMED" and event["SEQUENCE"] == 0
    assert event.decoded("LAST-MODIFIED") == event.decoded("DTSTAMP") == NOW
    assert str(event["UID"]) == event_uid(appointment.pk) == f"appointment-{appointment.pk}@127.0.0.1"


def test_a_reschedule_keeps_the_uid_raises_the_sequence_and_moves_the_times(client, therapist, desk):
    appointment = book(therapist, desk)
    url = subscribe(therapist.user)
    before = only(read(client, url))
    later = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)

    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        scheduling.reschedule_appointment(appointment=appointment, start=later, changed_by=desk)
        after = only(read(client, url))

    assert after["UID"] == before["UID"]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert (after.decoded("DTSTART"), after.decoded("DTEND")) == (later, later + timedelta(minutes=30))
    assert after.decoded("LAST-MODIFIED") == after.decoded("DTSTAMP") == NOW + timedelta(hours=1)


def test_a_cancelled_appointment_stays_in_the_feed_as_cancelled_with_a_higher_sequence(client, therapist, desk):
    appointment = book(therapist, desk)
    url = subscribe(therapist.user)
    scheduling.reschedule_appointment(appointment=appointment, start=TUESDAY_10 + timedelta(hours=2), changed_by=desk)
    moved = only(read(client, url))

    scheduling.cancel_appointment(appointment=appointment, cancelled_by=desk, reason="Patient's car broke down")
    cancelled = only(read(client, url))

    assert cancelled["UID"] == moved["UID"]
    assert cancelled["SEQUENCE"] > moved["SEQUENCE"] > 0
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert str(cancelled["SUMMARY"]).startswith("Cancelled: ")
    assert "car broke down" not in str(cancelled.to_ical())


def test_the_sequence_is_read_from_the_database_not_from_the_request(client, therapist, desk):
    appointment = book(therapist, desk)
    url = subscribe(therapist.user)
    scheduling.reschedule_appointment(appointment=appointment, start=TUESDAY_10 + timedelta(hours=2), changed_by=desk)
    first, again = only(read(client, url)), only(read(client, url))

    assert first["SEQUENCE"] == again["SEQUENCE"] == 1  # reading the feed changes nothing


def test_an_appointment_moved_to_another_therapist_leaves_one_feed_and_joins_the_other(client, therapist, desk):
    colleague = TherapistFactory()
    appointment = book(therapist, desk)
    mine, theirs = subscribe(therapist.user), subscribe(colleague.user)

    scheduling.reschedule_appointment(appointment=appointment, start=TUESDAY_10, therapist=colleague, changed_by=desk)

    assert read(client, mine) == {}
    assert only(read(client, theirs))["SEQUENCE"] == 1


def test_the_feed_shows_no_name_contact_or_clinical_text(client, therapist, desk):
    referral = ReferralFactory(cause="prolonged_sitting", patient__first_name="Philippa",
                               patient__last_name="Quennell-Brightwater", patient__email="philippa@example.org",
                               patient__notes="Prefers mornings; hearing aid")
    patient = referral.patient
    book(therapist, desk, patient=patient)
    book(therapist, desk, patient=patient, start=TUESDAY_10 + timedelta(days=1))
    appointment = book(therapist, desk, patient=PatientFactory(), start=TUESDAY_10 + timedelta(days=2))
    scheduling.cancel_appointment(appointment=appointment, cancelled_by=desk, reason="Flare-up of knee pain")

    body = client.get(subscribe(therapist.user)).content.decode()

    for other in PatientFactory._meta.model.objects.all():
        for private in (other.first_name, other.last_name, other.email, str(other.phone), other.notes):
            assert not private or private not in body, private
        assert other.record_number in body
    for clinical in ("prolonged", "sitting", referral.cause, "knee pain", "Flare-up", "hearing"):
        assert clinical not in body
    assert "DESCRIPTION" not in body and "ATTENDEE" not in body and "LOCATION" not in body


def test_another_therapists_feed_never_shows_my_appointments(client, therapist, desk):
    colleague = TherapistFactory()
    mine = book(therapist, desk)
    theirs = book(colleague, desk)

    events = read(client, subscribe(colleague.user))

    assert list(events) == [event_uid(theirs.pk)] and event_uid(mine.pk) not in events


def test_the_feed_covers_thirty_days_back_to_180_days_ahead(client, therapist, desk):
    url = subscribe(therapist.user)
    with time_machine.travel(NOW - timedelta(days=40), tick=False):  # booked when these were ahead
        book(therapist, desk, start=TUESDAY_10 - timedelta(days=35))  # Tue 20 Oct: before the 24 Oct cut-off
        recent = book(therapist, desk, start=TUESDAY_10 - timedelta(days=28))  # Tue 27 Oct
    near = book(therapist, desk, start=TUESDAY_10 + timedelta(days=175))  # Tue 18 May 2027: before 22 May
    book(therapist, desk, start=TUESDAY_10 + timedelta(days=182))  # Tue 25 May 2027: after it

    assert list(read(client, url)) == [event_uid(recent.pk), event_uid(near.pk)]


def test_the_number_of_queries_does_not_grow_with_the_appointments(client, therapist, desk):
    url = subscribe(therapist.user)
    counts = []
    for size in (1, 12):
        while therapist.appointments.count() < size:
            n = therapist.appointments.count()
            appointment = book(therapist, desk, start=TUESDAY_10 + timedelta(days=7 * n))
            if n % 3 == 0:
                scheduling.cancel_appointment(appointment=appointment, cancelled_by=desk, reason="x")
        with CaptureQueriesContext(connection) as queries:
            assert len(read(client, url)) == size
        counts.append(len(queries))
    # The feed and its holder, the holder's role, the appointments with their change counts.
    assert counts[0] == counts[1] == 3, counts


def test_an_unchanged_feed_answers_304_to_a_conditional_get(client, therapist, desk):
    appointment = book(therapist, desk)
    url = subscribe(therapist.user)
    first = client.get(url)

    same = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert same.status_code == 304 and same["ETag"] == first["ETag"]

    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        scheduling.reschedule_appointment(appointment=appointment, start=TUESDAY_10 + timedelta(hours=1),
                                          changed_by=desk)
        changed = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert first["Cache-Control"] == "private, no-cache"


def test_a_feed_that_lost_an_appointment_to_a_colleague_is_not_reported_unchanged(client, therapist, desk):
    stays = book(therapist, desk)
    leaves = book(therapist, desk, start=TUESDAY_10 + timedelta(hours=1))
    url = subscribe(therapist.user)
    first = client.get(url)
    assert "Last-Modified" not in first  # no date of the appointments left says whether the feed changed

    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        scheduling.reschedule_appointment(appointment=leaves, start=leaves.start, therapist=TherapistFactory(),
                                          changed_by=desk)
        after = client.get(url, headers={"If-None-Match": first["ETag"]})

    assert after.status_code == 200
    assert [str(event["UID"]) for event in Calendar.from_ical(after.content).walk("VEVENT")] == [event_uid(stays.pk)]


def test_a_head_request_answers_like_a_get_without_a_body(client, therapist, desk):
    book(therapist, desk)
    response = client.head(subscribe(therapist.user))

    assert response.status_code == 200 and response.content == b""
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
