"""ServiceRequest (the referral), Condition, EpisodeOfCare, Goal and CarePlan."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from apps.assessments.models import MeasureKind
from apps.fhir.resources.base import (
    CONDITION_CATEGORY,
    CONDITION_CLINICAL,
    CONDITION_VERIFICATION,
    CS_EXERCISE,
    CS_OUTCOME_MEASURE,
    CS_REFERRAL_CAUSE,
    ICD10CM,
    LOINC,
    ORGANIZATION_ID,
    SID_PROGRAM_VERSION,
    SNOMED,
    _clean,
    _concept,
    _date,
    _history_changed_at,
    _instant,
    _meta,
    _number,
    _patient_ref,
    _practitioner_ref,
    ref,
)
from apps.patients.models import Referral
from apps.prescriptions.models import Program
from apps.visits.models import PlanDiagnosis, PlanGoal, PlanOfCare

# --- ServiceRequest: the referral, its cause a coded reason


def referral_queryset() -> QuerySet:
    return Referral.objects.annotate(fhir_last_updated=_history_changed_at(Referral)).order_by("pk")


def service_request_resource(referral: Referral) -> dict:
    cause_text = referral.cause_other if referral.cause_other else referral.get_cause_display()
    return _clean({
        "resourceType": "ServiceRequest", "id": str(referral.pk), "meta": _meta(referral.fhir_last_updated),
        "status": "active", "intent": "order",
        "code": _concept(SNOMED, "91251008", "Physical therapy procedure"),
        "subject": _patient_ref(referral.patient_id),
        "authoredOn": _date(referral.referral_date),
        "requester": {"display": referral.referring_clinician} if referral.referring_clinician else None,
        "performer": [ref("Organization", ORGANIZATION_ID)],
        "reasonCode": [_concept(CS_REFERRAL_CAUSE, referral.cause, referral.get_cause_display(), cause_text)],
        "note": [{"text": referral.reason}] if referral.reason else [],
    })


# --- Condition: a plan of care's diagnoses (ICD-10-CM)


def condition_queryset() -> QuerySet:
    return (PlanDiagnosis.objects.select_related("plan")
            .annotate(fhir_last_updated=_history_changed_at(PlanDiagnosis)).order_by("pk"))


def condition_resource(diagnosis: PlanDiagnosis) -> dict:
    plan = diagnosis.plan
    clinical = "active" if plan.is_open else "resolved"
    return _clean({
        "resourceType": "Condition", "id": str(diagnosis.pk), "meta": _meta(diagnosis.fhir_last_updated),
        "clinicalStatus": _concept(CONDITION_CLINICAL, clinical),
        "verificationStatus": _concept(CONDITION_VERIFICATION, "confirmed"),
        "category": [_concept(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")],
        "code": _concept(ICD10CM, diagnosis.code, diagnosis.description),
        "subject": _patient_ref(plan.patient_id),
        "recordedDate": _date(plan.started_on),
        "abatementDateTime": _date(plan.discharged_on) if not plan.is_open else None,
    })


# --- EpisodeOfCare: the plan of care, referral to discharge


def episode_queryset() -> QuerySet:
    return (PlanOfCare.objects.select_related("therapist")
            .prefetch_related(Prefetch("diagnoses", queryset=PlanDiagnosis.objects.order_by("position", "id")))
            .order_by("pk"))


def episode_resource(plan: PlanOfCare) -> dict:
    return _clean({
        "resourceType": "EpisodeOfCare", "id": str(plan.pk), "meta": _meta(plan.updated_at),
        "status": "active" if plan.is_open else "finished",
        "type": [{"text": "Physical therapy plan of care"}],
        "diagnosis": [{"condition": ref("Condition", diagnosis.pk), "rank": rank}
                      for rank, diagnosis in enumerate(plan.diagnoses.all(), start=1)],
        "patient": _patient_ref(plan.patient_id),
        "managingOrganization": ref("Organization", ORGANIZATION_ID),
        "period": {"start": _date(plan.started_on), "end": _date(plan.discharged_on)},
        "referralRequest": [ref("ServiceRequest", plan.referral_id)] if plan.referral_id else [],
        "careManager": _practitioner_ref(plan.therapist),
    })


# --- Goal: a plan of care's goals

_MEASURE_CODE = {
    MeasureKind.NPRS: (LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    MeasureKind.ODI: (LOINC, "97909-6", "Oswestry Disability Index score"),
}


def _measure_concept(measure: str) -> dict:
    if measure in _MEASURE_CODE:
        system, code, display = _MEASURE_CODE[measure]
        return _concept(system, code, display)
    return _concept(CS_OUTCOME_MEASURE, measure, MeasureKind(measure).label)


def goal_queryset() -> QuerySet:
    return (PlanGoal.objects.select_related("plan")
            .prefetch_related(Prefetch("plan__diagnoses", queryset=PlanDiagnosis.objects.order_by("position", "id")))
            .annotate(fhir_last_updated=_history_changed_at(PlanGoal)).order_by("pk"))


def goal_resource(goal: PlanGoal) -> dict:
    plan = goal.plan
    target = []
    if goal.measure:
        target = [{"measure": _measure_concept(goal.measure),
                   "detailQuantity": {"value": _number(goal.target)} if goal.target is not None else None}]
    return _clean({
        "resourceType": "Goal", "id": str(goal.pk), "meta": _meta(goal.fhir_last_updated),
        "lifecycleStatus": "active" if plan.is_open else "completed",
        "description": {"text": goal.description},
        "subject": _patient_ref(plan.patient_id),
        "startDate": _date(plan.started_on),
        "target": target,
        "addresses": [ref("Condition", diagnosis.pk) for diagnosis in plan.diagnoses.all()],
    })


# --- CarePlan: the plan of care (goals, diagnoses, treatment) and the home program (its exercises, its version)

_PROGRAM_STATUS = {"draft": "draft", "active": "active", "paused": "on-hold", "completed": "completed",
                   "stopped": "revoked"}
_ACTIVITY_STATUS = {"draft": "not-started", "active": "in-progress", "paused": "on-hold", "completed": "completed",
                    "stopped": "stopped"}


def plan_care_plan_queryset() -> QuerySet:
    return (PlanOfCare.objects.select_related("therapist")
            .prefetch_related(Prefetch("diagnoses", queryset=PlanDiagnosis.objects.order_by("position", "id")),
                              Prefetch("goals", queryset=PlanGoal.objects.order_by("position", "id")))
            .order_by("pk"))


def plan_care_plan_resource(plan: PlanOfCare) -> dict:
    end = plan.discharged_on or plan.started_on + timedelta(weeks=plan.duration_weeks)
    activity = {"detail": {
        "status": "in-progress" if plan.is_open else "completed",
        "description": plan.treatment or "Physical therapy",
        "scheduledString": f"{plan.visits_per_week} visits a week for {plan.duration_weeks} weeks",
        "performer": [_practitioner_ref(plan.therapist)],
    }}
    return _clean({
        "resourceType": "CarePlan", "id": f"poc-{plan.pk}", "meta": _meta(plan.updated_at),
        "status": "active" if plan.is_open else "completed", "intent": "plan",
        "title": "Plan of care",
        "subject": _patient_ref(plan.patient_id),
        "period": {"start": _date(plan.started_on), "end": _date(end)},
        "created": _instant(plan.created_at),
        "author": _practitioner_ref(plan.therapist),
        "addresses": [ref("Condition", diagnosis.pk) for diagnosis in plan.diagnoses.all()],
        "goal": [ref("Goal", goal.pk) for goal in plan.goals.all()],
        "activity": [activity],
    })


def program_queryset() -> QuerySet:
    plan_of_program = PlanOfCare.objects.filter(program=OuterRef("pk")).order_by("-started_on", "-pk").values("pk")[:1]
    return (Program.objects.select_related("therapist")
            .prefetch_related("items__exercise", "versions")
            .annotate(fhir_plan_id=Subquery(plan_of_program)).order_by("pk"))


def program_resource(program: Program) -> dict:
    versions = [version.number for version in program.versions.all()]
    version = max(versions) if versions else None
    status = _ACTIVITY_STATUS[program.status]
    activities = [{"detail": {
        "kind": "ServiceRequest",
        "code": _concept(CS_EXERCISE, item.exercise.slug, item.exercise.name),
        "status": status,
        "description": item.dose_text,
        "scheduledString": f"{program.sessions_per_week} sessions a week",
    }} for item in program.items.all()]
    title = "Home exercise program" + (f", version {version}" if version else " (draft)")
    return _clean({
        "resourceType": "CarePlan", "id": str(program.pk), "meta": _meta(program.updated_at),
        "identifier": [{"system": SID_PROGRAM_VERSION, "value": f"{program.pk}-v{version}"}] if version else [],
        "partOf": [ref("CarePlan", f"poc-{program.fhir_plan_id}")] if program.fhir_plan_id else [],
        "status": _PROGRAM_STATUS[program.status], "intent": "plan",
        "category": [{"text": "Home exercise program"}],
        "title": title,
        "description": program.goals,
        "subject": _patient_ref(program.patient_id),
        "period": {"start": _date(program.start_date),
                   "end": _date(program.start_date + timedelta(weeks=program.weeks))},
        "created": _instant(program.created_at),
        "author": _practitioner_ref(program.therapist),
        "activity": activities,
    })
