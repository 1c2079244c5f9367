"""Writes of clinical records: assessments with their side findings, outcome measures,
and patient intake. The clinical rules themselves live in the pure modules
``classification.py`` and ``scoring/``; this module feeds them from the database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.assessments import classification
from apps.assessments.models import Assessment, OutcomeMeasure, OutcomeSource, SideFindings
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient, ReferralCause
from apps.patients.selectors import latest_referral


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else round(Decimal(str(value)), 1)


def _side_input(findings: SideFindings | None, side: str) -> classification.SideFindings:
    if findings is None:
        return classification.SideFindings(side=side)
    return classification.SideFindings(
        side=side,
        mmt_grade=findings.mmt_grade or None,
        knee_hold_seconds=None if findings.knee_hold_seconds is None else float(findings.knee_hold_seconds),
        dynamometry_newtons=findings.trials,
        pain_on_resisted_flexion=findings.pain_on_resisted_flexion,
        thomas_iliopsoas=findings.thomas_iliopsoas,
        thomas_rectus_femoris=findings.thomas_rectus_femoris,
        thomas_tfl=findings.thomas_tfl,
        aslr=findings.aslr,
    )


def classification_input(assessment: Assessment, findings: list[SideFindings]) -> classification.AssessmentInput:
    sides = {row.side: row for row in findings}
    referral = latest_referral(assessment.patient)
    weeks_since_surgery = None
    if referral is not None and referral.cause == ReferralCause.TRANSPSOAS_SURGERY and referral.surgery_date:
        days = (assessment.assessed_on - referral.surgery_date).days
        weeks_since_surgery = days / 7 if days >= 0 else None  # assessed before the surgery: treat as unknown
    policy = clinic_policy()
    return classification.AssessmentInput(
        left=_side_input(sides.get("left"), "left"),
        right=_side_input(sides.get("right"), "right"),
        knee_hold_pass_seconds=float(policy.knee_hold_pass_seconds),
        lsi_deficit_below=float(policy.lsi_deficit_below_percent),
        referral_cause=referral.cause if referral else None,
        weeks_since_surgery=weeks_since_surgery,
        surgeon_clearance=assessment.surgeon_clearance,
    )


def computed_values(assessment: Assessment, findings: list[SideFindings]) -> tuple[dict, dict]:
    """The assessment's derived fields from these side findings, and per side (best newtons, hold passed)."""
    try:
        result = classification.classify(classification_input(assessment, findings))
    except classification.ClassificationError as error:
        raise ValidationError({"sides": str(error)}) from None
    values = {
        "classification": result.label,
        "classification_reasons": result.reasons,
        "warnings": result.warnings,
        "limb_symmetry_index": _decimal(result.lsi),
        "suggested_rung": result.suggested_rung,
        "rung_reasons": result.rung_reasons,
    }
    per_side = {side: (_decimal(result.best_newtons.get(side)), result.knee_hold_pass.get(side))
                for side in ("left", "right")}
    return values, per_side


@transaction.atomic
def record_assessment(*, assessment: Assessment, sides: list[dict], recorded_by: User,
                      outcomes: list[OutcomeMeasure] = ()) -> Assessment:
    """Save an assessment with its per-side findings (at most one row per side) and any outcome
    measures taken at it, all or nothing.

    The classification, reasons, warnings, symmetry and rung are computed once, from the
    findings as they are about to be stored, and saved with the assessment (so its history
    row holds them too). Sides not given keep their stored findings.
    """
    seen = [side.get("side") for side in sides]
    if any(side not in {"left", "right"} for side in seen):
        raise ValidationError({"sides": "Each set of findings needs its side: left or right."})
    if len(seen) != len(set(seen)):
        raise ValidationError({"sides": "Give each side once."})
    findings = {row.side: row for row in assessment.sides.all()} if assessment.pk else {}
    for data in sides:
        row = findings.get(data["side"]) or SideFindings(side=data["side"])
        for name, value in data.items():
            setattr(row, name, value)
        row.full_clean(exclude=["assessment"])
        findings[data["side"]] = row
    assessment.full_clean()
    values, per_side = computed_values(assessment, list(findings.values()))
    for name, value in values.items():
        setattr(assessment, name, value)
    assessment._history_user = recorded_by
    assessment.save()
    for row in findings.values():
        row.assessment = assessment
        row.best_newtons, row.knee_hold_pass = per_side.get(row.side, (None, None))
        row._history_user = recorded_by
        row.save()
    for outcome in outcomes:
        outcome.patient, outcome.assessment = assessment.patient, assessment
        record_outcome(outcome=outcome, recorded_by=recorded_by)
    return assessment


def record_outcome(*, outcome: OutcomeMeasure, recorded_by: User | None) -> OutcomeMeasure:
    """Score and save one outcome measure; items out of range are refused, missing ones kept."""
    outcome.recorded_by = recorded_by
    outcome.full_clean()
    outcome._history_user = recorded_by
    outcome.save()
    return outcome


# ---------------------------------------------------------------------------- intake


def intake_expiry():
    return timezone.now() + timedelta(days=clinic_policy().intake_link_days)


def intake_measures(patient: Patient) -> list[OutcomeMeasure]:
    return list(patient.outcome_measures.filter(source=OutcomeSource.PATIENT))
