"""Reads of clinical records shaped for the admin, the API and the progress chart."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from apps.assessments import scoring
from apps.assessments.classification import mmt_value
from apps.assessments.models import Assessment, OutcomeMeasure
from apps.assessments.scoring.change import change
from apps.patients.models import Patient


def assessments() -> QuerySet:
    return Assessment.objects.select_related("patient", "therapist", "appointment").prefetch_related("sides")


def outcome_measures() -> QuerySet:
    """Each row annotated with ``baseline_score``: the patient's first score of the same measure."""
    first = OutcomeMeasure.objects.filter(
        patient=OuterRef("patient"), measure=OuterRef("measure"), score__isnull=False
    ).order_by("recorded_on", "id")
    return OutcomeMeasure.objects.select_related("patient").annotate(
        baseline_score=Subquery(first.values("score")[:1]),
        baseline_id=Subquery(first.values("id")[:1]),
    )


def change_from_baseline(outcome: OutcomeMeasure) -> dict | None:
    """Change against the first score of the same measure, and whether it matters (MCID)."""
    baseline = getattr(outcome, "baseline_score", None)
    if outcome.score is None or baseline is None or getattr(outcome, "baseline_id", None) == outcome.pk:
        return None
    result = change(outcome.measure, float(baseline), float(outcome.score))
    return {"baseline": float(baseline), "delta": result.delta, "percent": result.percent,
            "improved": result.improved, "mcid_reached": result.mcid_reached, "threshold": result.threshold}


def progress(patient: Patient) -> dict:
    """Everything the progress chart draws, oldest first (a fixed number of queries)."""
    visits = list(Assessment.objects.filter(patient=patient).prefetch_related("sides").order_by("assessed_on", "id"))
    strength, pain = [], []
    for visit in visits:
        sides = {findings.side: findings for findings in visit.sides.all()}
        point = {"date": visit.assessed_on.isoformat(), "assessment": visit.pk,
                 "classification": visit.classification,
                 "limb_symmetry_index": None if visit.limb_symmetry_index is None else float(visit.limb_symmetry_index)}
        for side in ("left", "right"):
            findings = sides.get(side)
            grade = findings.mmt_grade if findings else ""
            point[f"{side}_grade"] = grade or None
            point[f"{side}_grade_value"] = mmt_value(grade) if grade else None
            point[f"{side}_newtons"] = float(findings.best_newtons) if findings and findings.best_newtons else None
        strength.append(point)
        if visit.pain_now is not None or visit.pain_worst_week is not None:
            pain.append({"date": visit.assessed_on.isoformat(), "now": visit.pain_now,
                         "worst_week": visit.pain_worst_week})
    measures: dict[str, dict] = {}
    for outcome in outcome_measures().filter(patient=patient).order_by("recorded_on", "id"):
        info = scoring.info(outcome.measure)
        series = measures.setdefault(outcome.measure, {
            "label": info.label, "minimum": info.minimum, "maximum": info.maximum,
            "higher_is_better": info.higher_is_better, "points": [],
        })
        series["points"].append({
            "date": outcome.recorded_on.isoformat(), "score": None if outcome.score is None else float(outcome.score),
            "complete": outcome.complete, "note": outcome.score_note, "source": outcome.source,
            "change": change_from_baseline(outcome),
        })
    return {"patient": patient.pk, "strength": strength, "pain": pain, "measures": measures,
            "summary": summary(strength, measures)}


def summary(strength: list[dict], measures: dict) -> list[str]:
    """One line per series saying, in words, whether the patient is improving."""
    lines = []
    if len(strength) >= 2:
        first, last = strength[0], strength[-1]
        for side in ("left", "right"):
            before, after = first[f"{side}_grade_value"], last[f"{side}_grade_value"]
            if before is not None and after is not None and after != before:
                trend = "stronger" if after > before else "weaker"
                lines.append(f"{side.capitalize()} hip flexion {trend}: {first[f'{side}_grade']}/5 -> "
                             f"{last[f'{side}_grade']}/5.")
    for series in measures.values():
        latest = next((p for p in reversed(series["points"]) if p["change"]), None)
        if latest:
            c = latest["change"]
            direction = "better" if c["improved"] else "worse" if c["delta"] else "unchanged"
            mcid = "change that matters" if c["mcid_reached"] else f"below the {c['threshold']} that matters"
            lines.append(f"{series['label']}: {c['baseline']:g} -> {latest['score']:g} ({direction}; {mcid}).")
    return lines
