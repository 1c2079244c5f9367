"""Signed visit notes in the demo clinic, so its FHIR API shows DocumentReference and Provenance resources.

Registered with ``seed_demo`` (``hipclinic.demo``); idempotent. Two visits of the demo plan's
patient from the last two days, written as they happened: one note signed by the therapist, one
written by the assistant, co-signed by the therapist and corrected by an addendum. Signing asks
for the demo password; once a demo user has set up two-factor sign-in it also needs a code,
and the notes are left out.
"""

from __future__ import annotations

from datetime import time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import User
from apps.scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from apps.visits import services
from apps.visits.models import PlanOfCare, PlanStatus, VisitNote
from hipclinic.zones import clinic_today, clinic_zone, local_to_utc

SOAP = {"subjective": "Stairs easier this week; pain 3/10 at worst.",
        "objective": "Hip flexion 4+/5 on the left; knee-to-chest hold 11 s.",
        "assessment": "Progressing towards the stairs goal.",
        "plan": "Continue the home program; progress the march next visit."}


def seed(*, password: str) -> None:
    plan = PlanOfCare.objects.filter(patient__email__startswith="olive.ashworth@", status=PlanStatus.OPEN) \
        .select_related("patient").first()
    if plan is None or VisitNote.objects.filter(patient=plan.patient).exclude(status="draft").exists():
        return
    therapist, assistant = User.objects.get(username="therapist"), User.objects.get(username="assistant")
    try:
        first = _visit(plan, days_ago=2)
        note = services.start_note(appointment=first, author=therapist)
        services.save_note(note=note, edited_by=therapist, **SOAP)
        services.sign_note(note=note, signer=therapist, password=password)
        second = _visit(plan, days_ago=1)
        note = services.start_note(appointment=second, author=assistant)
        services.save_note(note=note, edited_by=assistant, **SOAP)
        note = services.sign_note(note=note, signer=assistant, password=password)
        note = services.cosign_note(note=note, therapist=therapist, password=password)
        services.add_addendum(note=note, author=therapist, reason="Late entry", password=password,
                              text="Patient also reported sleeping through the night.")
    except ValidationError:
        return  # a demo user with two-factor sign-in: signing needs their code


@transaction.atomic
def _visit(plan: PlanOfCare, *, days_ago: int) -> Appointment:
    """A follow-up visit at 07:00 clinic time some days ago, before the demo diary's hours (history as it happened:
    the booking service refuses the past)."""
    therapist = plan.therapist.therapist
    day = clinic_today() - timedelta(days=days_ago)
    start = local_to_utc(day, time(7, 0), clinic_zone())
    kind = AppointmentKind.objects.get(slug="follow_up")
    appointment, _ = Appointment.objects.get_or_create(
        patient=plan.patient, therapist=therapist, start=start,
        defaults={"kind": kind, "end": start + kind.duration, "status": AppointmentStatus.COMPLETED,
                  "booked_by": plan.therapist})
    return appointment
