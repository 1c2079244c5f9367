"""Builders for the outbox tests: a patient e-mail, and many appointments at once."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from apps.notifications.services import queue_email
from apps.patients.models import Patient
from apps.scheduling.models import Appointment
from tests.factories import TherapistFactory, appointment_kind


def queue_patient_email(patient: Patient, *, key: str = "test-email:1", **overrides):
    """An ordinary patient e-mail through the real templates."""
    fields = {
        "kind": "test-email",
        "to_email": patient.email,
        "subject": "Your appointment on Mon 24 Nov at 10:00",
        "text_template": "emails/appointment_reminder.txt",
        "html_template": "emails/appointment_reminder.html",
        "context": {"first_name": patient.first_name, "when": "Monday 24 November 2026 at 10:00",
                    "time_zone": "Europe/London"},
        "patient": patient,
    }
    fields.update(overrides)
    return queue_email(key=key, **fields)


def bulk_appointments(count: int, *, first_start: datetime, step: timedelta = timedelta(minutes=1),
                      consent: bool = True) -> list[Appointment]:
    """``count`` one-minute appointments, one patient each, with one therapist (a few queries, not thousands)."""
    therapist = TherapistFactory(hours=[])
    kind = appointment_kind()
    patients = Patient.objects.bulk_create(
        Patient(first_name=f"Bulk{i}", last_name="Patient", date_of_birth=date(1970, 1, 1),
                email=f"bulk{i}@example.org", email_consent=consent, time_zone="Europe/London")
        for i in range(count)
    )
    return Appointment.objects.bulk_create(
        Appointment(patient=patient, therapist=therapist, kind=kind, start=first_start + i * step,
                    end=first_start + i * step + timedelta(minutes=1), booked_by=therapist.user)
        for i, patient in enumerate(patients)
    )
