"""Reference rows the visits app keeps: the curated diagnosis codes (migration 0002 and post_migrate)."""

from __future__ import annotations

from apps.visits.codes import CURATED_DIAGNOSES


def ensure_diagnosis_codes(model=None) -> None:
    """Create the curated codes that are missing; never overwrites a clinic's edits."""
    if model is None:
        from apps.visits.models import DiagnosisCode as model
    have = set(model.objects.values_list("code", flat=True))
    model.objects.bulk_create([model(code=code, description=text) for code, text in CURATED_DIAGNOSES
                               if code not in have])
