"""Observation (pain, the hip-flexor tests, the ODI score), Questionnaire and QuestionnaireResponse."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.assessments.models import Assessment, MeasureKind, OutcomeMeasure, SideFindings
from apps.assessments.scoring import lefs, odi, psfs
from apps.fhir.resources.base import (
    CS_HIP_FLEXOR_TESTS,
    CS_OUTCOME_MEASURE,
    LOINC,
    OBSERVATION_CATEGORY,
    QUESTIONNAIRE_URL,
    _clean,
    _coding,
    _concept,
    _date,
    _history_changed_at,
    _meta,
    _number,
    _patient_ref,
    _practitioner_ref,
    _quantity,
    ref,
)

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
