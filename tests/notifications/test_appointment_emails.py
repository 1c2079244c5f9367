"""The appointment e-mails as a patient receives them: times in their zone, a calendar file that works."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from icalendar import Calendar

from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.services import dispatch_due
from apps.scheduling import emails
from apps.scheduling.models import AppointmentStatus, WaitlistEntry, WaitlistOffer
from tests.factories import AppointmentFactory, PatientFactory, appointment_kind
from tests.notifications.helpers import queue_patient_email

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]

TUESDAY_10_UTC = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def new_yorker():
    return PatientFactory(first_name="Margaret", last_name="Hamilton", time_zone="America/New_York",
                          email="margaret@example.org")


def text_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode()


def html_of(message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def calendar_of(message) -> tuple[Calendar, object]:
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    return calendar, part


def test_the_booking_confirmation_shows_the_patients_local_time_and_carries_an_invitation(
    frozen, smtp_server, new_yorker, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory(patient=new_yorker, start=TUESDAY_10_UTC)

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_booking_confirmation(appointment)

    [message] = smtp_server.messages
    assert message["Subject"] == "Your appointment on Tue 1 Dec at 05:00"  # New York is UTC-5 in December
    assert "Tuesday 1 December 2026 at 05:00" in text_of(message)
    assert "America/New_York" in text_of(message)
    assert "Tuesday 1 December 2026 at 05:00" in html_of(message)
    calendar, part = calendar_of(message)
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "appointment.ics"
    assert str(calendar["METHOD"]) == "REQUEST"
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == TUESDAY_10_UTC
    assert event.decoded("DTEND") == appointment.end
    assert str(event["UID"]) == f"appointment-{appointment.pk}@localhost"
    assert int(event["SEQUENCE"]) == 0
    assert "Margaret" not in str(event["SUMMARY"])
    assert OutboxEmail.objects.get().key == f"booking-confirmation:{appointment.pk}:2026-12-01T10:00:00+00:00"


def test_a_move_sends_an_update_to_the_same_calendar_event_and_drops_the_old_reminder(
    frozen, smtp_server, new_yorker, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory(patient=new_yorker, start=TUESDAY_10_UTC)
    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_booking_confirmation(appointment)
    old_reminder = queue_patient_email(new_yorker, key=emails.reminder_key(appointment.pk, TUESDAY_10_UTC),
                                       send_after=TUESDAY_10_UTC - timedelta(hours=24))

    frozen.shift(timedelta(hours=2))
    previous_start = appointment.start
    appointment.start = TUESDAY_10_UTC + timedelta(days=1, hours=4)
    appointment.end = appointment.start + timedelta(minutes=30)
    appointment.save()
    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_reschedule_notice(appointment, previous_start=previous_start)

    first, moved = smtp_server.messages
    assert moved["Subject"] == "Your appointment has moved to Wed 2 Dec at 09:00"
    assert "Tuesday 1 December 2026 at 05:00" in text_of(moved)  # where it was
    before, after = calendar_of(first)[0].walk("VEVENT")[0], calendar_of(moved)[0].walk("VEVENT")[0]
    assert after["UID"] == before["UID"]
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("DTSTART") == appointment.start
    old_reminder.refresh_from_db()
    assert old_reminder.status == OutboxStatus.SKIPPED


def test_a_cancellation_removes_the_event_from_the_calendar(
    frozen, smtp_server, new_yorker, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory(patient=new_yorker, start=TUESDAY_10_UTC)
    frozen.shift(timedelta(minutes=5))
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_cancellation_notice(appointment)
        emails.queue_cancellation_notice(appointment)  # a repeated cancel sends nothing more

    [message] = smtp_server.messages
    assert message["Subject"] == "Your appointment on Tue 1 Dec at 05:00 is cancelled"
    calendar, part = calendar_of(message)
    assert part.get_param("method") == "CANCEL"
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == f"appointment-{appointment.pk}@localhost"
    assert int(event["SEQUENCE"]) >= 300


def test_a_waitlist_offer_links_to_the_free_time(frozen, smtp_server, new_yorker, django_capture_on_commit_callbacks):
    freed = AppointmentFactory(start=TUESDAY_10_UTC, status=AppointmentStatus.CANCELLED)
    later = AppointmentFactory(patient=new_yorker, start=TUESDAY_10_UTC + timedelta(days=14))
    entry = WaitlistEntry.objects.create(
        patient=new_yorker, kind=appointment_kind(), current_appointment=later, earliest=TUESDAY_10_UTC.date(),
        latest=later.start.date(), created_by=later.booked_by,
    )
    offer = WaitlistOffer.objects.create(entry=entry, freed_appointment=freed, therapist=freed.therapist,
                                         start=freed.start, end=freed.end)
    accept_url = "http://127.0.0.1:8000/booking/offers/signed-token/"

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_waitlist_offer(offer, accept_url=accept_url)

    [message] = smtp_server.messages
    assert message["Subject"] == "A time has come free: Tue 1 Dec at 05:00"
    assert accept_url in text_of(message) and f'href="{accept_url}"' in html_of(message)
    assert "Tuesday 15 December 2026 at 05:00" in text_of(message)  # the appointment it would replace


def test_subjects_name_nobody_and_nothing_clinical(frozen, smtp_server, new_yorker, django_capture_on_commit_callbacks):
    appointment = AppointmentFactory(
        patient=new_yorker, start=TUESDAY_10_UTC, kind=appointment_kind("initial_assessment")
    )

    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_booking_confirmation(appointment)
    frozen.move_to(TUESDAY_10_UTC - timedelta(hours=20))
    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_appointment_reminders(timezone.now())
        dispatch_due()
    with django_capture_on_commit_callbacks(execute=True):
        emails.queue_cancellation_notice(appointment)

    subjects = [message["Subject"] for message in smtp_server.messages]
    assert len(subjects) == 3
    for forbidden in ("Margaret", "Hamilton", "assessment", appointment.therapist.display_name):
        assert not any(forbidden.lower() in subject.lower() for subject in subjects)
    assert "Initial assessment" in text_of(smtp_server.messages[0])  # the body may say what it is


def test_nothing_is_queued_for_a_patient_who_did_not_consent(frozen, django_capture_on_commit_callbacks):
    appointment = AppointmentFactory(patient=PatientFactory(email_consent=False), start=TUESDAY_10_UTC)

    with django_capture_on_commit_callbacks(execute=True):
        assert emails.queue_booking_confirmation(appointment) is None
        assert emails.queue_cancellation_notice(appointment) is None
        assert emails.queue_appointment_reminders(TUESDAY_10_UTC - timedelta(hours=1)) == 0

    assert not OutboxEmail.objects.exists()
