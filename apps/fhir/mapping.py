"""Our records as FHIR R4 resources: one place that says how each row becomes JSON.

The read API (``views.py``) and the bulk export call the same functions, so both give the
same resources. Each resource type is read from one or more *sources*: a queryset of rows
that each give exactly one resource (an assessment's right side gives one MMT Observation,
one knee-hold Observation...), so a page of a search is a slice of each source and its
total is a count per source: a fixed number of queries per page whatever its size.

Resource ids are the row's primary key, with a prefix where one type is read from several
sources (``Observation/mmt-12`` is the MMT of side-findings row 12).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import reverse

from apps.accounts.models import User
from apps.accounts.roles import GROUP_NAMES, Role
from apps.assessments.models import Assessment, MeasureKind, OutcomeMeasure, SideFindings
from apps.assessments.scoring import lefs, odi, psfs
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Program
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits.models import Addendum, NoteKind, NoteStatus, PlanDiagnosis, PlanGoal, PlanOfCare, VisitNote

FHIR_VERSION = "4.0.1"

# Our own systems: code systems for what has no standard code, identifier systems for our numbers.
LOCAL = "https://hipclinic.org/fhir"
CS_HIP_FLEXOR_TESTS = f"{LOCAL}/CodeSystem/hip-flexor-tests"
CS_REFERRAL_CAUSE = f"{LOCAL}/CodeSystem/referral-cause"
CS_STAFF_ROLE = f"{LOCAL}/CodeSystem/staff-role"
CS_APPOINTMENT_KIND = f"{LOCAL}/CodeSystem/appointment-kind"
CS_EXERCISE = f"{LOCAL}/CodeSystem/exercise"
CS_NOTE_KIND = f"{LOCAL}/CodeSystem/visit-note-kind"
CS_OUTCOME_MEASURE = f"{LOCAL}/CodeSystem/outcome-measure"
SID_RECORD_NUMBER = f"{LOCAL}/sid/record-number"
SID_PROGRAM_VERSION = f"{LOCAL}/sid/program-version"
QUESTIONNAIRE_URL = f"{LOCAL}/Questionnaire"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

ORGANIZATION_ID = "clinic"

# Every type the server returns, in an order where a resource's references come before it.
RESOURCE_TYPES: tuple[str, ...] = (
    "Organization", "Practitioner", "PractitionerRole", "Questionnaire", "Patient", "ServiceRequest",
    "EpisodeOfCare", "Condition", "Goal", "CarePlan", "Appointment", "Encounter", "Observation",
    "QuestionnaireResponse", "DocumentReference", "Provenance",
)


# ---------------------------------------------------------------------------------------------
# Small helpers


def _clean(value):
    """Drop empty values (FHIR forbids empty strings, arrays and objects), recursively."""
    if isinstance(value, dict):
        cleaned = {key: _clean(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        cleaned = [_clean(item) for item in value]
        return [item for item in cleaned if item not in (None, "", [], {})]
    return value


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: Decimal | float | int | None):
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def ref(resource_type: str, resource_id) -> dict:
    return {"reference": f"{resource_type}/{resource_id}"}


def _meta(last_updated: datetime | None) -> dict:
    return {"lastUpdated": _instant(last_updated)}


def _coding(system: str, code: str, display: str = "") -> dict:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str = "", text: str = "") -> dict:
    return {"coding": [_coding(system, code, display)], "text": text or display}


def _quantity(value, unit: str, code: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code}


def _patient_ref(patient_id) -> dict:
    return ref("Patient", patient_id)


def _practitioner_ref(user: User | None) -> dict | None:
    if user is None:
        return None
    return {**ref("Practitioner", user.pk), "display": str(user)}


def _history_changed_at(model) -> Subquery:
    """The time of a row's latest history entry (simple-history): its last change, for rows without updated_at."""
    historical = model.history.model
    return Subquery(historical.objects.filter(id=OuterRef("pk")).order_by().values("id")
                    .annotate(last=Max("history_date")).values("last")[:1])


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


# ---------------------------------------------------------------------------------------------
# Sources: where each type's resources come from


@dataclass(frozen=True)
class Source:
    """Rows that each give one resource: the queryset, the mapping and the fields searches use."""

    queryset: Callable[[], QuerySet]
    to_resource: Callable[[object], dict]
    prefix: str = ""  # the resource id is prefix + pk
    patient: str | None = None  # lookup to the patient's id
    date: str | None = None  # lookup of the resource's clinical date (a date or a datetime field)
    updated: str | None = None  # lookup of the last change (_lastUpdated); None: not tracked

    def resource_id(self, pk) -> str:
        return f"{self.prefix}{pk}"

    def pk_of(self, resource_id: str) -> int | None:
        """The row's pk for a resource id of this source, or None when the id is not of this source."""
        if not resource_id.startswith(self.prefix):
            return None
        rest = resource_id[len(self.prefix):]
        if not rest.isascii() or not rest.isdigit() or len(rest) > 18:
            return None
        return int(rest)


@dataclass(frozen=True)
class ResourceType:
    name: str
    sources: tuple[Source, ...] = ()
    static: Callable[[], list[dict]] | None = None  # a few resources not read from rows
    search_params: tuple[str, ...] = field(default=())

    @property
    def supports_patient(self) -> bool:
        return bool(self.sources) and all(source.patient for source in self.sources)

    @property
    def supports_date(self) -> bool:
        return bool(self.sources) and all(source.date for source in self.sources)

    @property
    def supports_last_updated(self) -> bool:
        return bool(self.sources) and all(source.updated for source in self.sources)


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


# --- Questionnaire: one per measure, item numbers and our own short labels (never the licensed wording)

QUESTIONNAIRE_MEASURES = (MeasureKind.LEFS, MeasureKind.ODI, MeasureKind.PSFS)


def _questionnaire_items(measure: str) -> list[dict]:
    if measure == MeasureKind.LEFS:
        items = [{"linkId": str(number), "text": label, "type": "integer"}
                 for number, label in enumerate(lefs.ITEM_LABELS, start=1)]
    elif measure == MeasureKind.ODI:
        items = [{"linkId": str(number), "text": f"Section {number} (0-5)", "type": "integer"}
                 for number in range(1, odi.SECTION_COUNT + 1)]
    else:
        items = [{"linkId": str(number), "text": f"Activity {number}, named by the patient (0-10)",
                  "type": "integer", "required": number == 1}
                 for number in range(1, psfs.MAX_ACTIVITIES + 1)]
    return [*items, {"linkId": "score", "text": "Score", "type": "decimal", "readOnly": True}]


def questionnaire_resources() -> list[dict]:
    return [_clean({
        "resourceType": "Questionnaire", "id": measure.value, "url": f"{QUESTIONNAIRE_URL}/{measure.value}",
        "name": measure.name, "title": measure.label, "status": "active", "subjectType": ["Patient"],
        "code": [_coding(CS_OUTCOME_MEASURE, measure.value, measure.label)],
        "item": _questionnaire_items(measure),
    }) for measure in QUESTIONNAIRE_MEASURES]


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


# --- Observation: pain, the hip-flexor tests, the ODI score

_EXAM = _concept(OBSERVATION_CATEGORY, "exam", "Exam")
_SURVEY = _concept(OBSERVATION_CATEGORY, "survey", "Survey")
NPRS_CODE = _concept(LOINC, "72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
ODI_CODE = _concept(LOINC, "97909-6", "Oswestry Disability Index score")

# Our local codes (CS_HIP_FLEXOR_TESTS): code -> display.
HIP_FLEXOR_CODES = {
    "mmt-hip-flexion": "Manual muscle test, hip flexion (grade 0-5)",
    "knee-to-chest-hold": "Knee-to-chest hold (seconds)",
    "dynamometry-hip-flexion": "Hand-held dynamometry, hip flexion, best trial (newtons)",
    "dynamometry-trial": "Hand-held dynamometry, one trial (newtons)",
    "limb-symmetry-index": "Hip flexion limb symmetry index (weaker / stronger x 100)",
    "thomas-test": "Thomas test (any component positive)",
    "thomas-iliopsoas": "Thomas test: iliopsoas (thigh lifts)",
    "thomas-rectus-femoris": "Thomas test: rectus femoris (knee stays straight)",
    "thomas-tfl": "Thomas test: tensor fasciae latae (leg drifts out)",
    "resisted-flexion-painful": "Pain on resisted hip flexion",
}


def _local(code: str) -> dict:
    return _concept(CS_HIP_FLEXOR_TESTS, code, HIP_FLEXOR_CODES[code])


def _observation(resource_id: str, *, code: dict, category: dict, patient_id, effective, performer, updated,
                 **value) -> dict:
    return _clean({
        "resourceType": "Observation", "id": resource_id, "meta": _meta(updated),
        "status": "final", "category": [category], "code": code,
        "subject": _patient_ref(patient_id),
        "effectiveDateTime": _date(effective),
        "performer": [_practitioner_ref(performer)],
        **value,
    })


def assessment_observation_queryset() -> QuerySet:
    return Assessment.objects.select_related("therapist").order_by("pk")


def side_observation_queryset() -> QuerySet:
    return SideFindings.objects.select_related("assessment__therapist").order_by("pk")


def pain_now_resource(assessment: Assessment) -> dict:
    return _observation(f"pain-{assessment.pk}", code=NPRS_CODE, category=_SURVEY, patient_id=assessment.patient_id,
                        effective=assessment.assessed_on, performer=assessment.therapist,
                        updated=assessment.updated_at, valueInteger=assessment.pain_now)


def symmetry_resource(assessment: Assessment) -> dict:
    return _observation(f"lsi-{assessment.pk}", code=_local("limb-symmetry-index"), category=_EXAM,
                        patient_id=assessment.patient_id, effective=assessment.assessed_on,
                        performer=assessment.therapist, updated=assessment.updated_at,
                        valueQuantity=_quantity(assessment.limb_symmetry_index, "%", "%"))


def _side_observation(findings: SideFindings, prefix: str, code: str, **value) -> dict:
    assessment = findings.assessment
    return _observation(f"{prefix}{findings.pk}", code=_local(code), category=_EXAM,
                        patient_id=assessment.patient_id, effective=assessment.assessed_on,
                        performer=assessment.therapist, updated=assessment.updated_at,
                        bodySite={"text": f"{findings.get_side_display()} hip"}, **value)


def mmt_resource(findings: SideFindings) -> dict:
    components = []
    if findings.pain_on_resisted_flexion is not None:
        components.append({"code": _local("resisted-flexion-painful"),
                           "valueBoolean": findings.pain_on_resisted_flexion})
    return _side_observation(findings, "mmt-", "mmt-hip-flexion", valueString=f"{findings.mmt_grade}/5",
                             component=components)


def knee_hold_resource(findings: SideFindings) -> dict:
    return _side_observation(findings, "kneehold-", "knee-to-chest-hold",
                             valueQuantity=_quantity(findings.knee_hold_seconds, "s", "s"))


def dynamometry_resource(findings: SideFindings) -> dict:
    trials = [{"code": {**_local("dynamometry-trial"), "text": f"Trial {number}"},
               "valueQuantity": _quantity(trial, "N", "N")}
              for number, trial in enumerate(
                  (findings.dynamometry_trial_1, findings.dynamometry_trial_2, findings.dynamometry_trial_3), start=1)
              if trial is not None]
    return _side_observation(findings, "dyn-", "dynamometry-hip-flexion",
                             valueQuantity=_quantity(findings.best_newtons, "N", "N"), component=trials)


def thomas_resource(findings: SideFindings) -> dict:
    parts = {"thomas-iliopsoas": findings.thomas_iliopsoas, "thomas-rectus-femoris": findings.thomas_rectus_femoris,
             "thomas-tfl": findings.thomas_tfl}
    components = [{"code": _local(code), "valueBoolean": value} for code, value in parts.items() if value is not None]
    positive = any(value for value in parts.values())
    return _side_observation(findings, "thomas-", "thomas-test", valueBoolean=positive, component=components)


def measure_observation_queryset() -> QuerySet:
    return (OutcomeMeasure.objects.select_related("recorded_by", "assessment")
            .annotate(fhir_last_updated=_history_changed_at(OutcomeMeasure)).order_by("pk"))


def nprs_resource(measure: OutcomeMeasure) -> dict:
    return _observation(f"nprs-{measure.pk}", code=NPRS_CODE, category=_SURVEY, patient_id=measure.patient_id,
                        effective=measure.recorded_on, performer=measure.recorded_by,
                        updated=measure.fhir_last_updated, valueInteger=_number(measure.score))


def odi_resource(measure: OutcomeMeasure) -> dict:
    return _observation(f"odi-{measure.pk}", code=ODI_CODE, category=_SURVEY, patient_id=measure.patient_id,
                        effective=measure.recorded_on, performer=measure.recorded_by,
                        updated=measure.fhir_last_updated, valueQuantity=_quantity(measure.score, "%", "%"),
                        derivedFrom=[ref("QuestionnaireResponse", measure.pk)])


# --- QuestionnaireResponse: LEFS, ODI and PSFS answers


def questionnaire_response_queryset() -> QuerySet:
    return (OutcomeMeasure.objects.filter(measure__in=QUESTIONNAIRE_MEASURES).select_related("recorded_by")
            .annotate(fhir_last_updated=_history_changed_at(OutcomeMeasure)).order_by("pk"))


def _answers(measure: OutcomeMeasure) -> list[dict]:
    items = measure.items if isinstance(measure.items, list) else []
    if measure.measure == MeasureKind.PSFS:
        try:
            pairs = psfs.activities(items)
        except ValueError:
            pairs = []
        return [{"linkId": str(number), "text": name,
                 "answer": [{"valueInteger": value}] if value is not None else []}
                for number, (name, value) in enumerate(pairs, start=1)]
    labels = lefs.ITEM_LABELS if measure.measure == MeasureKind.LEFS else None
    answers = []
    for number, value in enumerate(items, start=1):
        if measure.measure == MeasureKind.ODI:
            try:
                value = odi.section_score(value, number)
            except ValueError:
                value = None
        text = labels[number - 1] if labels and number <= len(labels) else f"Section {number} (0-5)"
        answers.append({"linkId": str(number), "text": text,
                        "answer": [{"valueInteger": int(value)}] if isinstance(value, int | float) else []})
    return answers


def questionnaire_response_resource(measure: OutcomeMeasure) -> dict:
    items = _answers(measure)
    if measure.score is not None:
        items.append({"linkId": "score", "text": "Score", "answer": [{"valueDecimal": float(measure.score)}]})
    patient_reported = measure.source == "patient"
    return _clean({
        "resourceType": "QuestionnaireResponse", "id": str(measure.pk), "meta": _meta(measure.fhir_last_updated),
        "questionnaire": f"{QUESTIONNAIRE_URL}/{measure.measure}",
        "status": "completed" if measure.complete else "in-progress",
        "subject": _patient_ref(measure.patient_id),
        "authored": _date(measure.recorded_on),
        "author": _patient_ref(measure.patient_id) if patient_reported else _practitioner_ref(measure.recorded_by),
        "source": _patient_ref(measure.patient_id) if patient_reported else None,
        "item": items,
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
