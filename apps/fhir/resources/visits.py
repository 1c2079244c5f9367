"""Appointment, Encounter, DocumentReference (each signed note's PDF) and Provenance (signatures)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse

from apps.fhir.resources.base import (
    ACT_CODE,
    CS_APPOINTMENT_KIND,
    CS_NOTE_KIND,
    LOINC,
    ORGANIZATION_ID,
    PROVENANCE_PARTICIPANT,
    SIGNATURE_TYPE,
    _clean,
    _coding,
    _concept,
    _instant,
    _meta,
    _patient_ref,
    _practitioner_ref,
    absolute_url,
    ref,
)
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits.models import Addendum, NoteKind, NoteStatus, VisitNote

# --- Appointment and Encounter

_APPOINTMENT_STATUS = {AppointmentStatus.BOOKED: "booked", AppointmentStatus.CHECKED_IN: "arrived",
                       AppointmentStatus.COMPLETED: "fulfilled", AppointmentStatus.CANCELLED: "cancelled",
                       AppointmentStatus.NO_SHOW: "noshow"}


def appointment_queryset() -> QuerySet:
    return Appointment.objects.select_related("therapist__user", "kind").order_by("pk")


def appointment_resource(appointment: Appointment) -> dict:
    return _clean({
        "resourceType": "Appointment", "id": str(appointment.pk), "meta": _meta(appointment.updated_at),
        "status": _APPOINTMENT_STATUS[appointment.status],
        "serviceType": [_concept(CS_APPOINTMENT_KIND, appointment.kind.slug, appointment.kind.name)],
        "start": _instant(appointment.start), "end": _instant(appointment.end),
        "minutesDuration": int((appointment.end - appointment.start).total_seconds() // 60),
        "created": _instant(appointment.created_at),
        "participant": [
            {"actor": _patient_ref(appointment.patient_id), "required": "required", "status": "accepted"},
            {"actor": _practitioner_ref(appointment.therapist.user), "required": "required", "status": "accepted"},
        ],
    })


def encounter_queryset() -> QuerySet:
    return (Appointment.objects.filter(status=AppointmentStatus.COMPLETED)
            .select_related("therapist__user", "kind", "visit_note").order_by("pk"))


def _note_of(appointment: Appointment) -> VisitNote | None:
    try:
        return appointment.visit_note
    except Appointment.visit_note.RelatedObjectDoesNotExist:
        return None


def encounter_resource(appointment: Appointment) -> dict:
    note = _note_of(appointment)
    return _clean({
        "resourceType": "Encounter", "id": str(appointment.pk), "meta": _meta(appointment.updated_at),
        "status": "finished",
        "class": _coding(ACT_CODE, "AMB", "ambulatory"),
        "serviceType": _concept(CS_APPOINTMENT_KIND, appointment.kind.slug, appointment.kind.name),
        "subject": _patient_ref(appointment.patient_id),
        "episodeOfCare": [ref("EpisodeOfCare", note.plan_of_care_id)] if note else [],
        "participant": [{"individual": _practitioner_ref(appointment.therapist.user)}],
        "appointment": [ref("Appointment", appointment.pk)],
        "period": {"start": _instant(appointment.start), "end": _instant(appointment.end)},
        "serviceProvider": ref("Organization", ORGANIZATION_ID),
    })



# --- DocumentReference: each signed note's PDF; Provenance: signatures, co-signatures, addenda

_NOTE_TYPE = {
    NoteKind.DAILY: (LOINC, "11506-3", "Progress note"),
    NoteKind.PROGRESS: (LOINC, "11506-3", "Progress note"),
    NoteKind.REEVALUATION: (LOINC, "11506-3", "Progress note"),
    NoteKind.DISCHARGE: (LOINC, "18842-5", "Discharge summary"),
}


def signed_note_queryset() -> QuerySet:
    return (VisitNote.objects.exclude(status=NoteStatus.DRAFT)
            .select_related("author", "signed_by", "cosigned_by", "appointment").order_by("pk"))


def note_pdf_url(note_id: int) -> str:
    return absolute_url(reverse("visit-note-pdf", kwargs={"pk": note_id}))


def document_reference_resource(note: VisitNote) -> dict:
    system, code, display = _NOTE_TYPE[note.kind]
    type_ = {"coding": [_coding(system, code, display), _coding(CS_NOTE_KIND, note.kind, note.get_kind_display())],
             "text": note.get_kind_display()}
    return _clean({
        "resourceType": "DocumentReference", "id": str(note.pk), "meta": _meta(note.updated_at),
        "status": "current",
        "docStatus": "final" if note.status == NoteStatus.SIGNED else "preliminary",
        "type": type_,
        "subject": _patient_ref(note.patient_id),
        "date": _instant(note.signed_at),
        "author": [_practitioner_ref(note.author)],
        "authenticator": _practitioner_ref(note.cosigned_by or note.signed_by),
        "custodian": ref("Organization", ORGANIZATION_ID),
        "content": [{"attachment": {
            "contentType": "application/pdf", "url": note_pdf_url(note.pk),
            "title": f"{note.get_kind_display()} {note.appointment.start:%Y-%m-%d}",
            "creation": _instant(note.signed_at),
        }}],
        "context": {"encounter": [ref("Encounter", note.appointment_id)],
                    "period": {"start": _instant(note.appointment.start), "end": _instant(note.appointment.end)},
                    "related": [ref("EpisodeOfCare", note.plan_of_care_id)]},
    })


def _signature_provenance(resource_id: str, *, note_id: int, when, who, signature_code: str,
                          signature_display: str, activity: str, updated, verifier: bool = False) -> dict:
    agent_type = _concept(PROVENANCE_PARTICIPANT, "verifier", "Verifier") if verifier else \
        _concept(PROVENANCE_PARTICIPANT, "author", "Author")
    return _clean({
        "resourceType": "Provenance", "id": resource_id, "meta": _meta(updated),
        "target": [ref("DocumentReference", note_id)],
        "recorded": _instant(when),
        "activity": {"text": activity},
        "agent": [{"type": agent_type, "who": _practitioner_ref(who),
                   "onBehalfOf": ref("Organization", ORGANIZATION_ID)}],
        "signature": [{"type": [_coding(SIGNATURE_TYPE, signature_code, signature_display)],
                       "when": _instant(when), "who": _practitioner_ref(who)}],
    })


def signature_resource(note: VisitNote) -> dict:
    return _signature_provenance(f"sign-{note.pk}", note_id=note.pk, when=note.signed_at,
                                 who=note.signed_by, signature_code="1.2.840.10065.1.12.1.1",
                                 signature_display="Author's Signature", activity="Visit note signed",
                                 updated=note.signed_at)


def cosignature_resource(note: VisitNote) -> dict:
    return _signature_provenance(f"cosign-{note.pk}", note_id=note.pk, when=note.cosigned_at, verifier=True,
                                 who=note.cosigned_by,
                                 signature_code="1.2.840.10065.1.12.1.5", signature_display="Verification Signature",
                                 activity="Visit note co-signed", updated=note.cosigned_at)


def addendum_queryset() -> QuerySet:
    return Addendum.objects.select_related("note", "author").order_by("pk")


def addendum_resource(addendum: Addendum) -> dict:
    return _signature_provenance(f"addendum-{addendum.pk}", note_id=addendum.note_id,
                                 when=addendum.signed_at, who=addendum.author,
                                 signature_code="1.2.840.10065.1.12.1.1", signature_display="Author's Signature",
                                 activity=f"Addendum signed: {addendum.reason}", updated=addendum.signed_at)
