"""Our records as FHIR R4 resources: which rows give each type, and the interface to read them.

How one row becomes JSON is in ``apps/fhir/resources/`` (one module per group of types). The
read API (``views.py``) and the bulk export call the same functions, so both give the same
resources. Each resource type is read from one or more *sources*: a queryset of rows
that each give exactly one resource (an assessment's right side gives one MMT Observation,
one knee-hold Observation...), so a page of a search is a slice of each source and its
total is a count per source: a fixed number of queries per page whatever its size.

Resource ids are the row's primary key, with a prefix where one type is read from several
sources (``Observation/mmt-12`` is the MMT of side-findings row 12).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from django.db.models import Q, QuerySet

from apps.assessments.models import MeasureKind
from apps.fhir.resources.base import (
    ResourceType,
    Source,
)
from apps.fhir.resources.care import (
    condition_queryset,
    condition_resource,
    episode_queryset,
    episode_resource,
    goal_queryset,
    goal_resource,
    plan_care_plan_queryset,
    plan_care_plan_resource,
    program_queryset,
    program_resource,
    referral_queryset,
    service_request_resource,
)
from apps.fhir.resources.measures import (
    assessment_observation_queryset,
    dynamometry_resource,
    knee_hold_resource,
    measure_observation_queryset,
    mmt_resource,
    nprs_resource,
    odi_resource,
    pain_now_resource,
    questionnaire_resources,
    questionnaire_response_queryset,
    questionnaire_response_resource,
    side_observation_queryset,
    symmetry_resource,
    thomas_resource,
)
from apps.fhir.resources.people import (
    organization_resources,
    patient_queryset,
    patient_resource,
    practitioner_queryset,
    practitioner_resource,
    practitioner_role_resource,
)
from apps.fhir.resources.visits import (
    addendum_queryset,
    addendum_resource,
    appointment_queryset,
    appointment_resource,
    cosignature_resource,
    document_reference_resource,
    encounter_queryset,
    encounter_resource,
    signature_resource,
    signed_note_queryset,
)

# Every type the server returns, in an order where a resource's references come before it.
RESOURCE_TYPES: tuple[str, ...] = (
    "Organization", "Practitioner", "PractitionerRole", "Questionnaire", "Patient", "ServiceRequest",
    "EpisodeOfCare", "Condition", "Goal", "CarePlan", "Appointment", "Encounter", "Observation",
    "QuestionnaireResponse", "DocumentReference", "Provenance",
)


# ---------------------------------------------------------------------------------------------
# The registry


def _filtered(queryset_fn: Callable[[], QuerySet], **lookups) -> Callable[[], QuerySet]:
    return lambda: queryset_fn().filter(**lookups)


def _excluded(queryset_fn: Callable[[], QuerySet], **lookups) -> Callable[[], QuerySet]:
    return lambda: queryset_fn().exclude(**lookups)


TYPES: dict[str, ResourceType] = {resource_type.name: resource_type for resource_type in (
    ResourceType("Organization", static=organization_resources),
    ResourceType("Questionnaire", static=questionnaire_resources),
    ResourceType("Practitioner", sources=(Source(practitioner_queryset, practitioner_resource),)),
    ResourceType("PractitionerRole", sources=(Source(practitioner_queryset, practitioner_role_resource),)),
    ResourceType("Patient", sources=(
        Source(patient_queryset, patient_resource, patient="pk", date="date_of_birth", updated="updated_at"),)),
    ResourceType("ServiceRequest", sources=(
        Source(referral_queryset, service_request_resource, patient="patient_id", date="referral_date",
               updated="fhir_last_updated"),)),
    ResourceType("Condition", sources=(
        Source(condition_queryset, condition_resource, patient="plan__patient_id", date="plan__started_on",
               updated="fhir_last_updated"),)),
    ResourceType("EpisodeOfCare", sources=(
        Source(episode_queryset, episode_resource, patient="patient_id", date="started_on", updated="updated_at"),)),
    ResourceType("Goal", sources=(
        Source(goal_queryset, goal_resource, patient="plan__patient_id", date="plan__started_on",
               updated="fhir_last_updated"),)),
    ResourceType("CarePlan", sources=(
        Source(plan_care_plan_queryset, plan_care_plan_resource, prefix="poc-", patient="patient_id",
               date="started_on", updated="updated_at"),
        Source(program_queryset, program_resource, patient="patient_id", date="start_date", updated="updated_at"),
    )),
    ResourceType("Appointment", sources=(
        Source(appointment_queryset, appointment_resource, patient="patient_id", date="start",
               updated="updated_at"),)),
    ResourceType("Encounter", sources=(
        Source(encounter_queryset, encounter_resource, patient="patient_id", date="start", updated="updated_at"),)),
    ResourceType("Observation", sources=(
        Source(_filtered(assessment_observation_queryset, pain_now__isnull=False), pain_now_resource,
               prefix="pain-", patient="patient_id", date="assessed_on", updated="updated_at"),
        Source(_filtered(assessment_observation_queryset, limb_symmetry_index__isnull=False), symmetry_resource,
               prefix="lsi-", patient="patient_id", date="assessed_on", updated="updated_at"),
        Source(_excluded(side_observation_queryset, mmt_grade=""), mmt_resource, prefix="mmt-",
               patient="assessment__patient_id", date="assessment__assessed_on", updated="assessment__updated_at"),
        Source(_filtered(side_observation_queryset, knee_hold_seconds__isnull=False), knee_hold_resource,
               prefix="kneehold-", patient="assessment__patient_id", date="assessment__assessed_on",
               updated="assessment__updated_at"),
        Source(_filtered(side_observation_queryset, best_newtons__isnull=False), dynamometry_resource,
               prefix="dyn-", patient="assessment__patient_id", date="assessment__assessed_on",
               updated="assessment__updated_at"),
        Source(lambda: side_observation_queryset().filter(
            Q(thomas_iliopsoas__isnull=False) | Q(thomas_rectus_femoris__isnull=False) | Q(thomas_tfl__isnull=False)),
            thomas_resource, prefix="thomas-", patient="assessment__patient_id", date="assessment__assessed_on",
            updated="assessment__updated_at"),
        Source(_filtered(measure_observation_queryset, measure=MeasureKind.NPRS, score__isnull=False), nprs_resource,
               prefix="nprs-", patient="patient_id", date="recorded_on", updated="fhir_last_updated"),
        Source(_filtered(measure_observation_queryset, measure=MeasureKind.ODI, score__isnull=False), odi_resource,
               prefix="odi-", patient="patient_id", date="recorded_on", updated="fhir_last_updated"),
    )),
    ResourceType("QuestionnaireResponse", sources=(
        Source(questionnaire_response_queryset, questionnaire_response_resource, patient="patient_id",
               date="recorded_on", updated="fhir_last_updated"),)),
    ResourceType("DocumentReference", sources=(
        Source(signed_note_queryset, document_reference_resource, patient="patient_id", date="signed_at",
               updated="updated_at"),)),
    ResourceType("Provenance", sources=(
        Source(signed_note_queryset, signature_resource, prefix="sign-", patient="patient_id", date="signed_at",
               updated="signed_at"),
        Source(_filtered(signed_note_queryset, cosigned_at__isnull=False), cosignature_resource, prefix="cosign-",
               patient="patient_id", date="cosigned_at", updated="cosigned_at"),
        Source(addendum_queryset, addendum_resource, prefix="addendum-", patient="note__patient_id",
               date="signed_at", updated="signed_at"),
    )),
)}

assert set(TYPES) == set(RESOURCE_TYPES)


# ---------------------------------------------------------------------------------------------
# The interface the read API and the bulk export share


def read(resource_type: str, resource_id: str) -> dict | None:
    """One resource by type and id, or None (unknown type or id)."""
    spec = TYPES.get(resource_type)
    if spec is None:
        return None
    if spec.static is not None:
        return next((resource for resource in spec.static() if resource["id"] == resource_id), None)
    found = read_row(resource_type, resource_id)
    return found[0].to_resource(found[1]) if found else None


def read_row(resource_type: str, resource_id: str) -> tuple[Source, object] | None:
    """The source and row behind a resource id (one query), or None."""
    spec = TYPES.get(resource_type)
    for source in spec.sources if spec else ():
        pk = source.pk_of(resource_id)
        if pk is not None:
            row = source.queryset().filter(pk=pk).first()
            if row is not None:
                return source, row
    return None


def filter_source(source: Source, queryset: QuerySet, *, patient_ids=None, since: datetime | None = None) -> QuerySet:
    if patient_ids is not None:
        queryset = queryset.filter(**{f"{source.patient}__in": list(patient_ids)}) if source.patient else \
            queryset.none()
    if since is not None and source.updated:
        queryset = queryset.filter(**{f"{source.updated}__gte": since})
    return queryset


def iter_resources(resource_type: str, *, patient_ids=None, since: datetime | None = None,
                   chunk_size: int = 500) -> Iterator[dict]:
    """Every resource of a type as FHIR JSON, in chunks of ``chunk_size`` rows (keyset pages: constant memory,
    a fixed number of queries per chunk). ``patient_ids`` limits to those patients (types without a patient,
    such as Practitioner, give nothing then); ``since`` keeps resources changed at or after it where changes
    are tracked (types without tracking give everything)."""
    spec = TYPES[resource_type]
    if spec.static is not None:
        if patient_ids is None:
            yield from spec.static()
        return
    for source in spec.sources:
        queryset = filter_source(source, source.queryset(), patient_ids=patient_ids, since=since)
        last_pk = None
        while True:
            chunk = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
            rows = list(chunk.order_by("pk")[:chunk_size])
            for row in rows:
                yield source.to_resource(row)
            if len(rows) < chunk_size:
                break
            last_pk = rows[-1].pk


def to_resource(obj) -> dict:
    """The resource a row gives: the first type and source of its model that holds it (a plan of care is an
    EpisodeOfCare, an outcome measure a QuestionnaireResponse or, for NPRS, an Observation)."""
    for spec in TYPES.values():
        for source in sorted(spec.sources, key=lambda source: bool(source.prefix)):
            if source.queryset().model is type(obj):
                row = source.queryset().filter(pk=obj.pk).first()
                if row is not None:
                    return source.to_resource(row)
    raise LookupError(f"No FHIR resource for this {type(obj).__name__}")
