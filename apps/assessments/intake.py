"""Patient intake: a signed link lets a patient rate NPRS, LEFS and PSFS themselves before the first assessment.

A therapist sends the invitation (``send_intake_invitation``, or the Patient admin's
``send_intake_action``); the patient opens ``intake_url`` (no account) and submits once
(``submit_intake``). The link opens one invitation, and through it one patient: the
token names the invitation and its patient, and the invitation's own ``expires_at``,
``revoked_at`` and ``completed_at`` decide whether it is still open. Answers are stored
as outcome measures with ``source=patient`` and no staff user.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.assessments.models import IntakeInvitation, MeasureKind, OutcomeMeasure, OutcomeSource
from apps.assessments.scoring import lefs as lefs_scoring
from apps.assessments.scoring import psfs as psfs_scoring
from apps.assessments.services import intake_expiry, record_outcome
from apps.notifications.services import queue_email
from apps.patients.models import Patient
from hipclinic.zones import long_date

log = logging.getLogger("hipclinic.intake")

INTAKE_SALT = "hipclinic.assessments.intake"
KIND_INTAKE_INVITATION = "intake-invitation"
# Lock screens show subjects: no name, nothing clinical.
INTAKE_SUBJECT = "A few questions before your first visit"
PSFS_NAME_MAX_LENGTH = 100
SEND_PERMISSION = "assessments.add_intakeinvitation"


class IntakeClosed(ValidationError):
    """The invitation is used, expired, revoked, or its patient archived: nothing can be submitted."""

    def __init__(self, message: str = "This questionnaire link is no longer open.") -> None:
        super().__init__(message, code="intake_closed")


# ---------------------------------------------------------------------------- sending


def _refusal(patient: Patient) -> str | None:
    """Why this patient cannot be sent an intake questionnaire, or None."""
    if patient.is_archived:
        return "This patient is archived: restore the record first."
    if not patient.email:
        return "This patient has no e-mail address."
    if not patient.email_consent:
        return "This patient has not agreed to receive e-mail."
    if patient.assessments.exists():
        return "This patient has already been assessed: the intake questionnaire is for before the first assessment."
    return None


def send_intake_invitation(*, patient: Patient, sent_by: User) -> IntakeInvitation:
    """Invite a patient to fill in the intake questionnaire; earlier open invitations stop working."""
    with transaction.atomic():
        # Locking the patient row makes two simultaneous sends queue up, so only one link stays open.
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        reason = _refusal(patient)
        if reason:
            raise ValidationError(reason, code="intake_refused")
        now = timezone.now()
        IntakeInvitation.objects.filter(
            patient=patient, completed_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        invitation = IntakeInvitation.objects.create(patient=patient, created_by=sent_by, expires_at=intake_expiry())
        row = queue_email(
            key=f"{KIND_INTAKE_INVITATION}:{invitation.pk}",
            kind=KIND_INTAKE_INVITATION,
            to_email=patient.email,
            subject=INTAKE_SUBJECT,
            text_template="emails/intake_invitation.txt",
            html_template="emails/intake_invitation.html",
            context=_email_context(invitation),
            patient=patient,
        )
        if row is None:  # cannot happen after the checks above; never leave a link nobody was sent
            raise ValidationError("The invitation e-mail could not be queued.", code="intake_not_queued")
    log.info("intake invitation sent id=%s patient_id=%s", invitation.pk, patient.pk)
    return invitation


def _email_context(invitation: IntakeInvitation) -> dict:
    local = invitation.expires_at.astimezone(invitation.patient.zone)
    return {
        "first_name": invitation.patient.first_name,
        "intake_url": intake_url(invitation),
        "expires_on": long_date(local.date()),
    }


# ---------------------------------------------------------------------------- the signed link


def intake_token(invitation: IntakeInvitation) -> str:
    return signing.dumps({"intake": invitation.pk, "patient": invitation.patient_id}, salt=INTAKE_SALT)


def intake_url(invitation: IntakeInvitation) -> str:
    return settings.SITE_URL + reverse("assessments:intake", kwargs={"token": intake_token(invitation)})


def invitation_from_token(token: str) -> IntakeInvitation | None:
    """The invitation a signed link names (open or not), or None for a tampered or unknown link.

    No ``max_age`` here: the invitation's own ``expires_at`` decides, so that the clinic's
    setting at the time of sending holds, and ``is_open`` says whether it can still be used.
    """
    try:
        data = signing.loads(token, salt=INTAKE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    invitation_id, patient_id = data.get("intake"), data.get("patient")
    if not isinstance(invitation_id, int) or not isinstance(patient_id, int):
        return None
    return IntakeInvitation.objects.select_related("patient").filter(pk=invitation_id, patient_id=patient_id).first()


def is_usable(invitation: IntakeInvitation) -> bool:
    """Open, and its patient not archived since it was sent."""
    return invitation.is_open and not invitation.patient.is_archived


# ---------------------------------------------------------------------------- submitting


def _answered(values: Sequence) -> bool:
    return any(value is not None for value in values)


def _check_psfs(psfs: Sequence) -> list[list]:
    pairs = []
    for number, pair in enumerate(psfs, start=1):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationError({"psfs": f"Activity {number}: give its name and a score."})
        name, value = pair
        if not isinstance(name, str) or not name.strip():
            raise ValidationError({"psfs": f"Activity {number}: name the activity."})
        if "\x00" in name or len(name.strip()) > PSFS_NAME_MAX_LENGTH:
            raise ValidationError({"psfs": f"Activity {number}: use at most {PSFS_NAME_MAX_LENGTH} plain characters."})
        pairs.append([name.strip(), value])
    return pairs


def submit_intake(
    *,
    invitation: IntakeInvitation,
    nprs: int | None,
    lefs: list[int | None],
    psfs: list[tuple[str, int | None]],
) -> list[OutcomeMeasure]:
    """Save the patient's answers as patient-reported outcome measures and close the invitation, all or nothing."""
    lefs = list(lefs or [])
    if lefs and len(lefs) != lefs_scoring.ITEM_COUNT:
        raise ValidationError({"lefs": f"Give {lefs_scoring.ITEM_COUNT} answers, leaving unanswered ones empty."})
    if len(psfs or []) > psfs_scoring.MAX_ACTIVITIES:
        raise ValidationError({"psfs": f"Name at most {psfs_scoring.MAX_ACTIVITIES} activities."})
    psfs_pairs = _check_psfs(psfs or [])

    with transaction.atomic():
        # The row lock makes a second submission of the same link wait, then find it completed.
        locked = (
            IntakeInvitation.objects.select_for_update(of=("self",)).select_related("patient").get(pk=invitation.pk)
        )
        if not is_usable(locked):
            raise IntakeClosed()
        patient = locked.patient
        wanted = []
        if nprs is not None:
            wanted.append((MeasureKind.NPRS, [nprs]))
        if _answered(lefs):
            wanted.append((MeasureKind.LEFS, lefs))  # a gap leaves it incomplete and unscored (scoring/lefs.py)
        if _answered([value for _name, value in psfs_pairs]):
            wanted.append((MeasureKind.PSFS, psfs_pairs))
        if not wanted:
            raise ValidationError("Answer at least one question before sending.", code="intake_empty")

        outcomes, errors = [], {}
        for measure, items in wanted:
            outcome = OutcomeMeasure(patient=patient, measure=measure, items=items, source=OutcomeSource.PATIENT)
            try:
                outcome.full_clean()
            except ValidationError as error:
                errors[measure.value] = error.messages
            outcomes.append(outcome)
        if errors:
            raise ValidationError(errors)

        saved = [record_outcome(outcome=outcome, recorded_by=None) for outcome in outcomes]
        locked.completed_at = timezone.now()
        locked.save(update_fields=["completed_at"])
    invitation.completed_at = locked.completed_at
    log.info("intake submitted id=%s patient_id=%s measures=%d", locked.pk, patient.pk, len(saved))
    return saved


# ---------------------------------------------------------------------------- admin action


@admin.action(description="Send intake questionnaire")
def send_intake_action(modeladmin, request, queryset):
    """Patient admin action: e-mail each selected patient an intake link; refusals are listed with the reason."""
    if not request.user.has_perm(SEND_PERMISSION):
        modeladmin.message_user(request, "You do not have permission to send intake questionnaires.",
                                level=messages.ERROR)
        return None
    sent, refused = 0, []
    for patient in queryset.order_by("pk"):
        try:
            send_intake_invitation(patient=patient, sent_by=request.user)
        except ValidationError as error:
            refused.append(f"{patient.record_number or patient.pk}: {' '.join(error.messages)}")
        else:
            sent += 1
    if sent:
        noun = "patient" if sent == 1 else "patients"
        modeladmin.message_user(request, f"Intake questionnaire sent to {sent} {noun}.", level=messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, f"Not sent to {line}", level=messages.WARNING)
    return None
