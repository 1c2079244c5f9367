"""The e-mails about appointments: confirmation (.ics), reschedule, cancellation, waitlist offer, reminders.

Each queues an outbox row in the caller's transaction (``apps.notifications``), to
patients who consented only. Subjects carry a date and time and nothing else: they show
on lock screens. Times are shown in the patient's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress

from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.services import build_email, queue_email, queue_many
from apps.scheduling.models import Appointment, AppointmentStatus, WaitlistOffer
from hipclinic.zones import long_when, short_when

REMINDER_AHEAD = timedelta(hours=24)

KIND_CONFIRMATION = "booking-confirmation"
KIND_RESCHEDULED = "appointment-rescheduled"
KIND_CANCELLED = "appointment-cancelled"
KIND_REMINDER = "appointment-reminder"
KIND_WAITLIST_OFFER = "waitlist-offer"


# ---------------------------------------------------------------------------- keys and times


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def confirmation_key(appointment: Appointment) -> str:
    return f"{KIND_CONFIRMATION}:{appointment.pk}:{_iso(appointment.start)}"


def reschedule_key(appointment: Appointment) -> str:
    return f"{KIND_RESCHEDULED}:{appointment.pk}:{_iso(appointment.start)}"


def cancellation_key(appointment: Appointment) -> str:
    return f"{KIND_CANCELLED}:{appointment.pk}"


def reminder_key(appointment_id: int, start: datetime) -> str:
    return f"{KIND_REMINDER}:{appointment_id}:{_iso(start)}"


def _context(appointment: Appointment, zone: ZoneInfo) -> dict:
    return {
        "first_name": appointment.patient.first_name,
        "when": long_when(appointment.start, zone),
        "duration_minutes": int((appointment.end - appointment.start).total_seconds() // 60),
        "kind_name": appointment.kind.name,
        "therapist": appointment.therapist.display_name,
        "time_zone": zone.key,
    }


# ---------------------------------------------------------------------------- calendar invitations


def _sequence(appointment: Appointment) -> int:
    # iCalendar wants a number that grows with every change of the event: seconds since
    # booking grow without a counter column (0 for the first invitation).
    return max(0, int((timezone.now() - appointment.created_at).total_seconds()))


def ics_attachment(appointment: Appointment, *, method: str) -> dict:
    """An iCalendar REQUEST (booked or moved) or CANCEL for the appointment, one stable UID per appointment."""
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "no-reply@localhost"
    calendar = Calendar()
    calendar.add("prodid", "-//hipclinic//appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", f"appointment-{appointment.pk}@{sender.rpartition('@')[2] or 'hipclinic'}")
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", appointment.start.astimezone(UTC))
    event.add("dtend", appointment.end.astimezone(UTC))
    event.add("sequence", _sequence(appointment))
    event.add("summary", "Clinic appointment")  # calendars show it on shared screens: nothing clinical
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{sender}")
    organizer.params["cn"] = "hipclinic"
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{appointment.patient.email}")
    attendee.params["role"] = "REQ-PARTICIPANT"
    event.add("attendee", attendee)
    calendar.add_component(event)
    return {
        "filename": "cancel.ics" if method == "CANCEL" else "appointment.ics",
        "content_type": f"text/calendar; method={method}",
        "content": calendar.to_ical().decode(),
    }


# ---------------------------------------------------------------------------- one e-mail each


def _skip_pending_reminder(appointment_id: int, start: datetime) -> None:
    # A reminder queued for a time that no longer holds must not go out.
    OutboxEmail.objects.filter(key=reminder_key(appointment_id, start), status=OutboxStatus.PENDING).update(
        status=OutboxStatus.SKIPPED, last_error="appointment changed"
    )


def queue_booking_confirmation(appointment: Appointment) -> OutboxEmail | None:
    """The 'you're booked' e-mail with a calendar invitation."""
    patient = appointment.patient
    zone = patient.zone
    return queue_email(
        key=confirmation_key(appointment),
        kind=KIND_CONFIRMATION,
        to_email=patient.email,
        subject=f"Your appointment on {short_when(appointment.start, zone)}",
        text_template="emails/appointment_confirmation.txt",
        html_template="emails/appointment_confirmation.html",
        context=_context(appointment, zone),
        patient=patient,
        attachments=[ics_attachment(appointment, method="REQUEST")],
    )


def queue_reschedule_notice(appointment: Appointment, *, previous_start: datetime) -> OutboxEmail | None:
    """The 'your appointment has moved' e-mail; its invitation replaces the earlier one."""
    _skip_pending_reminder(appointment.pk, previous_start)
    patient = appointment.patient
    zone = patient.zone
    return queue_email(
        key=reschedule_key(appointment),
        kind=KIND_RESCHEDULED,
        to_email=patient.email,
        subject=f"Your appointment has moved to {short_when(appointment.start, zone)}",
        text_template="emails/appointment_rescheduled.txt",
        html_template="emails/appointment_rescheduled.html",
        context={**_context(appointment, zone), "previous_when": long_when(previous_start, zone)},
        patient=patient,
        attachments=[ics_attachment(appointment, method="REQUEST")],
    )


def queue_cancellation_notice(appointment: Appointment) -> OutboxEmail | None:
    """The 'your appointment is cancelled' e-mail; its .ics removes the event from the calendar."""
    _skip_pending_reminder(appointment.pk, appointment.start)
    patient = appointment.patient
    zone = patient.zone
    return queue_email(
        key=cancellation_key(appointment),
        kind=KIND_CANCELLED,
        to_email=patient.email,
        subject=f"Your appointment on {short_when(appointment.start, zone)} is cancelled",
        text_template="emails/appointment_cancelled.txt",
        html_template="emails/appointment_cancelled.html",
        context=_context(appointment, zone),
        patient=patient,
        attachments=[ics_attachment(appointment, method="CANCEL")],
    )


def queue_waitlist_offer(offer: WaitlistOffer, *, accept_url: str) -> OutboxEmail | None:
    """Offer a freed slot to a waitlisted patient, with the link that takes it."""
    entry = offer.entry
    patient = entry.patient
    zone = patient.zone
    current = entry.current_appointment
    return queue_email(
        key=f"{KIND_WAITLIST_OFFER}:{offer.pk}",
        kind=KIND_WAITLIST_OFFER,
        to_email=patient.email,
        subject=f"A time has come free: {short_when(offer.start, zone)}",
        text_template="emails/waitlist_offer.txt",
        html_template="emails/waitlist_offer.html",
        context={
            "first_name": patient.first_name,
            "when": long_when(offer.start, zone),
            "duration_minutes": int((offer.end - offer.start).total_seconds() // 60),
            "kind_name": entry.kind.name,
            "therapist": offer.therapist.display_name,
            "time_zone": zone.key,
            "accept_url": accept_url,
            "replaces_when": long_when(current.start, zone) if current and current.is_active else "",
        },
        patient=patient,
    )


# ---------------------------------------------------------------------------- the reminder scan


def due_reminder_appointments(now: datetime):
    """Booked appointments starting within the next 24 hours whose patient takes e-mail."""
    return (
        Appointment.objects.filter(
            status=AppointmentStatus.BOOKED, start__gt=now, start__lte=now + REMINDER_AHEAD,
            patient__email_consent=True, patient__archived_at__isnull=True,
        )
        .exclude(patient__email="")
        .select_related("patient", "therapist", "kind")
    )


def queue_appointment_reminders(now: datetime) -> int:
    """Queue a reminder for each appointment in the next 24 hours that has none; returns how many.

    Three queries whatever the number of appointments: the appointments, the keys
    already queued, one INSERT (ignoring keys a concurrent scan wrote meanwhile). The
    sweep then sends them.
    """
    appointments = {reminder_key(a.pk, a.start): a for a in due_reminder_appointments(now)}
    if not appointments:
        return 0
    existing = set(OutboxEmail.objects.filter(key__in=list(appointments)).values_list("key", flat=True))
    rows = []
    for key, appointment in appointments.items():
        if key in existing:
            continue
        zone = appointment.patient.zone
        row = build_email(
            key=key,
            kind=KIND_REMINDER,
            to_email=appointment.patient.email,
            subject=f"Reminder: your appointment on {short_when(appointment.start, zone)}",
            text_template="emails/appointment_reminder.txt",
            html_template="emails/appointment_reminder.html",
            context=_context(appointment, zone),
            patient=appointment.patient,
            send_after=now,
        )
        if row is not None:
            rows.append(row)
    return queue_many(rows)
