"""Patient e-mails of the follow-up loop, through the outbox (exactly once per key)."""

from django.conf import settings
from django.utils import timezone

from apps.notifications.services import queue_email, send_time
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import ProgramVersion


def queue_progression_notice(version: ProgramVersion):
    """Tell the patient their new dose and what changed, with their program link."""
    program = version.program
    link = prescriptions.open_patient_link(patient=program.patient, by=program.therapist)
    return queue_email(
        key=f"progression:{program.pk}:{version.number}",
        kind="progression",
        to_email=program.patient.email,
        subject="Your exercises have been updated",
        text_template="emails/progression.txt",
        html_template="emails/progression.html",
        context={"patient": program.patient, "changes": version.changes, "items": version.items,
                 "program_url": prescriptions.patient_link_url(link), "clinic_url": settings.SITE_URL},
        patient=program.patient,
        # Held during the clinic's quiet hours in the patient's zone, until they end.
        send_after=send_time(timezone.now(), program.patient.zone),
    )
