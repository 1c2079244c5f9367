"""The patient's e-mail when a program becomes active: the program, its doses and the link, once per activation."""

from __future__ import annotations

from django.utils import timezone

from apps.notifications.models import OutboxEmail
from apps.notifications.services import queue_email, send_time
from apps.prescriptions.models import Program
from hipclinic.zones import long_date

KIND_HOME_PROGRAM = "home-program"
HOME_PROGRAM_SUBJECT = "Your home exercise program"  # lock screens show subjects: nothing clinical, no name


def home_program_key(program: Program) -> str:
    return f"{KIND_HOME_PROGRAM}:{program.pk}:{program.activated_at.timestamp():.6f}"


def queue_home_program(program: Program) -> OutboxEmail | None:
    """Queue 'your home program' in the activating transaction; None if the patient takes no e-mail.

    Keyed by the activation's moment, so each activation sends one e-mail and a retried
    task or a second sweep never a second. Held during the clinic's quiet hours in the
    patient's zone; consent and the one-click unsubscribe are the outbox's.
    """
    from apps.prescriptions.services import open_patient_link, patient_link_url

    patient = program.patient
    if not patient.can_receive_email:
        return None
    link = open_patient_link(patient=patient, by=program.therapist)
    items = [{"name": item.exercise.name, "dose": item.dose_text, "notes": item.notes}
             for item in program.items.select_related("exercise").order_by("order", "id")]
    return queue_email(
        key=home_program_key(program),
        kind=KIND_HOME_PROGRAM,
        to_email=patient.email,
        subject=HOME_PROGRAM_SUBJECT,
        text_template="emails/home_program.txt",
        html_template="emails/home_program.html",
        context={"first_name": patient.first_name, "items": items, "weeks": program.weeks,
                 "sessions_per_week": program.sessions_per_week, "starts_on": long_date(program.start_date),
                 "program_url": patient_link_url(link),
                 "link_expires_on": long_date(link.expires_at.astimezone(patient.zone).date())},
        patient=patient,
        send_after=send_time(timezone.now(), patient.zone),
    )
