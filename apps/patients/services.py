"""Writes to patients and referrals: registration, archiving, red-flag decisions."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.patients.models import Patient, RedFlagDecision, Referral
from apps.patients.vetoes import archive_refusals

log = logging.getLogger("hipclinic.patients")


def register_patient(*, patient: Patient, referral: Referral | None = None, registered_by: User) -> Patient:
    """Save a new patient (and their referral) together, or neither."""
    patient.full_clean()
    with transaction.atomic():
        patient._history_user = registered_by
        patient.save()
        if referral is not None:
            referral.patient = patient
            referral.full_clean()
            referral._history_user = registered_by
            referral.save()
    return patient


def update_patient(*, patient: Patient, changed_by: User) -> Patient:
    """Save changes to a patient's details (consent changes are time-stamped); refused while archived."""
    stored = Patient.objects.filter(pk=patient.pk).values_list("archived_at", flat=True).first()
    if stored is not None:
        raise ValidationError({"patient": "This patient is archived: restore the record first."})
    patient.full_clean()
    patient._history_user = changed_by
    patient.save()
    return patient


def add_referral(*, referral: Referral, added_by: User) -> Referral:
    if referral.patient.is_archived:
        raise ValidationError({"patient": "This patient is archived: restore the record first."})
    referral.full_clean()
    referral._history_user = added_by
    referral.save()
    return referral


def update_referral(*, referral: Referral, changed_by: User) -> Referral:
    """Save changes to a referral (not its red-flag decision: see ``record_red_flag_decision``)."""
    if referral.patient.is_archived:
        raise ValidationError({"patient": "This patient is archived: restore the record first."})
    referral.full_clean()
    referral._history_user = changed_by
    referral.save()
    return referral


def archive_patient(*, patient: Patient, archived_by: User) -> Patient:
    """Archive instead of deleting; refused while another app has a reason to keep it open (upcoming appointments)."""
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        if locked.is_archived:
            patient.archived_at = locked.archived_at
            return patient
        refusals = archive_refusals(locked)
        if refusals:
            raise ValidationError({"patient": refusals})
        locked.archived_at = timezone.now()
        locked._history_user = archived_by
        locked._change_reason = "archived"
        locked.save(update_fields=["archived_at", "updated_at"])
    patient.archived_at, patient.updated_at = locked.archived_at, locked.updated_at  # the caller's copy too
    return patient


def restore_patient(*, patient: Patient, restored_by: User) -> Patient:
    """Bring an archived record back (bookings and programs are allowed again)."""
    patient.archived_at = None
    patient._history_user = restored_by
    patient._change_reason = "restored"
    patient.save(update_fields=["archived_at", "updated_at"])
    return patient


def set_email_consent(*, patient: Patient, consent: bool, changed_by: User | None = None) -> bool:
    """Record consent given or withdrawn (Patient.save stamps the time of the change); True when it changed.

    ``changed_by`` is None when the patient themself withdrew it (the one-click unsubscribe).
    """
    if patient.email_consent == consent:
        return False
    patient.email_consent = consent
    patient._history_user = changed_by
    patient._change_reason = "e-mail consent given" if consent else "e-mail consent withdrawn"
    patient.save()
    log.info("patient e-mail consent %s patient_id=%s", "given" if consent else "withdrawn", patient.pk)
    return True


def check_red_flag_decision(*, referral: Referral, decision: str, note: str) -> None:
    """Raise ValidationError (by field) unless ``decision`` and ``note`` may be recorded on ``referral``."""
    if not referral.red_flag_positive:
        raise ValidationError({"red_flag_decision": "This referral's red-flag screen is negative."})
    if decision not in RedFlagDecision.values:
        raise ValidationError({"red_flag_decision": "Choose a decision."})
    if not note.strip():
        raise ValidationError({"red_flag_decision_note": "Say what the decision rests on."})


def record_red_flag_decision(*, referral: Referral, decision: str, note: str, decided_by: User) -> Referral:
    """A clinician's decision on a positive red-flag screen; lifts the block on prescribing."""
    check_red_flag_decision(referral=referral, decision=decision, note=note)
    if not decided_by.has_perm("patients.decide_red_flag"):
        raise ValidationError({"red_flag_decision": "Only a therapist may decide on a red-flag screen."})
    referral.red_flag_decision = decision
    referral.red_flag_decision_note = note.strip()
    referral.red_flag_decided_by = decided_by
    referral.red_flag_decided_at = timezone.now()
    referral._history_user = decided_by
    referral.save()
    return referral
