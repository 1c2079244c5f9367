"""Patient, Practitioner, PractitionerRole and Organization (the clinic)."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.accounts.models import User
from apps.accounts.roles import GROUP_NAMES, Role
from apps.fhir.resources.base import (
    CS_STAFF_ROLE,
    NPI,
    ORGANIZATION_ID,
    SID_RECORD_NUMBER,
    _clean,
    _concept,
    _date,
    _meta,
    _practitioner_ref,
    ref,
)
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient

# --- Patient


def patient_queryset() -> QuerySet:
    return Patient.objects.order_by("pk")


_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def patient_resource(patient: Patient) -> dict:
    telecom = []
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if patient.phone:
        telecom.append({"system": "phone", "value": str(patient.phone)})
    return _clean({
        "resourceType": "Patient", "id": str(patient.pk), "meta": _meta(patient.updated_at),
        "identifier": [{"system": SID_RECORD_NUMBER, "value": patient.record_number}],
        "active": not patient.is_archived,
        "name": [{"use": "official", "family": patient.last_name, "given": [patient.first_name]}],
        "telecom": telecom,
        "gender": _GENDER.get(patient.sex, "unknown"),
        "birthDate": _date(patient.date_of_birth),
    })


# --- Practitioner and PractitionerRole: staff who treat (therapists, assistants, anyone bookable)

_CLINICIAN_GROUPS = [GROUP_NAMES[Role.THERAPIST], GROUP_NAMES[Role.ASSISTANT]]


def practitioner_queryset() -> QuerySet:
    clinicians = User.objects.filter(Q(therapist__isnull=False) | Q(groups__name__in=_CLINICIAN_GROUPS)).values("pk")
    return (User.objects.filter(pk__in=clinicians).select_related("therapist").prefetch_related("groups")
            .order_by("pk"))


def _therapist_of(user: User):
    try:
        return user.therapist
    except User.therapist.RelatedObjectDoesNotExist:
        return None


def practitioner_resource(user: User) -> dict:
    therapist = _therapist_of(user)
    name = {"family": user.last_name, "given": [user.first_name] if user.first_name else [],
            "text": therapist.display_name if therapist else str(user)}
    return _clean({
        "resourceType": "Practitioner", "id": str(user.pk),
        "identifier": [{"system": NPI, "value": therapist.npi}] if therapist and therapist.npi else [],
        "active": user.is_active,
        "name": [name],
        "telecom": [{"system": "email", "value": user.email}] if user.email else [],
    })


def practitioner_role_resource(user: User) -> dict:
    role = user.role
    therapist = _therapist_of(user)
    code = _concept(CS_STAFF_ROLE, role.value, role.label) if role else {"text": "Therapist"}
    return _clean({
        "resourceType": "PractitionerRole", "id": str(user.pk),
        "active": user.is_active and (therapist.is_active if therapist else True),
        "practitioner": _practitioner_ref(user),
        "organization": ref("Organization", ORGANIZATION_ID),
        "code": [code],
    })


# --- Organization: the clinic, from its policy


def organization_resources() -> list[dict]:
    policy = clinic_policy()
    identifier = [{"system": NPI, "value": policy.billing_npi}] if policy.billing_npi else []
    return [_clean({
        "resourceType": "Organization", "id": ORGANIZATION_ID, "identifier": identifier, "active": True,
        "name": policy.clinic_name,
        "telecom": [{"system": "phone", "value": policy.phone}] if policy.phone else [],
        "address": [{"text": policy.address}] if policy.address else [],
    })]
