"""The events an endpoint may subscribe to, and the payload of each (ids and times only).

No names, no clinical content: a payload says *what happened to which record, when*;
an integrator who needs more reads it through the API with its own credentials.
"""

from django.db import models


class Event(models.TextChoices):
    APPOINTMENT_BOOKED = "appointment.booked", "Appointment booked"
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled", "Appointment rescheduled"
    APPOINTMENT_CANCELLED = "appointment.cancelled", "Appointment cancelled"
    PROGRAM_ACTIVATED = "program.activated", "Home program activated"
    VISIT_NOTE_SIGNED = "visit_note.signed", "Visit note signed"
    INVOICE_ISSUED = "invoice.issued", "Invoice issued"


def _time(value) -> str | None:
    return value.isoformat() if value is not None else None


def appointment_data(appointment, **extra) -> dict:
    return {"appointment_id": appointment.pk, "patient_id": appointment.patient_id,
            "therapist_id": appointment.therapist_id, "start": _time(appointment.start),
            "end": _time(appointment.end), "status": appointment.status, **extra}


def program_data(program) -> dict:
    return {"program_id": program.pk, "patient_id": program.patient_id, "therapist_id": program.therapist_id,
            "activated_at": _time(program.activated_at)}


def note_data(note) -> dict:
    # ``status`` is "signed", or "awaiting_cosignature" for an assistant's note.
    return {"visit_note_id": note.pk, "patient_id": note.patient_id,
            "appointment_id": note.appointment_id, "plan_of_care_id": note.plan_of_care_id,
            "signed_by_id": note.signed_by_id, "signed_at": _time(note.signed_at), "status": note.status}


def invoice_data(invoice) -> dict:
    return {"invoice_id": invoice.pk, "number": invoice.number, "patient_id": invoice.patient_id,
            "issued_on": invoice.issued_on.isoformat()}
