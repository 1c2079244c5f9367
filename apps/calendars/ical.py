"""The iCalendar document of a feed (RFC 5545), built with the icalendar library.

What it shows and why: calendar providers (Google, Apple, Microsoft) are not the
clinic's processors, so an event carries the time, the appointment's kind and the
patient's record number, and nothing else: no name, no contact details, no clinical text.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import Calendar, Event

from apps.scheduling.models import Appointment, AppointmentStatus

PRODID = "-//hipclinic//therapist calendar feed//EN"
# How often calendar apps are asked to look again (most poll at their own pace anyway).
REFRESH = timedelta(minutes=30)
STATUS_WORDS = {AppointmentStatus.CANCELLED: "Cancelled", AppointmentStatus.NO_SHOW: "No-show"}


def event_uid(appointment_id: int) -> str:
    host = urlsplit(settings.SITE_URL).hostname or "hipclinic"
    return f"appointment-{appointment_id}@{host}"


def summary(appointment: Appointment) -> str:
    record = appointment.patient.record_number or "new patient"
    text = f"{appointment.kind.name} · {record}"
    word = STATUS_WORDS.get(appointment.status)
    return f"{word}: {text}" if word else text


def event_for(appointment: Appointment) -> Event:
    event = Event()
    event.add("uid", event_uid(appointment.pk))
    # Without METHOD, DTSTAMP is when the event was last revised (RFC 5545 3.8.7.2): the same bytes until it changes.
    event.add("dtstamp", appointment.updated_at.astimezone(UTC))
    event.add("last-modified", appointment.updated_at.astimezone(UTC))
    event.add("created", appointment.created_at.astimezone(UTC))
    event.add("sequence", appointment.changes)
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("summary", summary(appointment))
    event.add("status", "CANCELLED" if appointment.status == AppointmentStatus.CANCELLED else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if appointment.status == AppointmentStatus.CANCELLED else "OPAQUE")
    event.add("class", "PRIVATE")
    return event


def feed_calendar(appointments) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "hipclinic appointments")
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    for appointment in appointments:
        calendar.add_component(event_for(appointment))
    return calendar.to_ical()
