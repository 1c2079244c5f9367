"""A signed note as a PDF (WeasyPrint: HTML and CSS to PDF, no browser), with the clinic's details,
signatures, addenda and the content hash.

Times are printed in the clinic's zone, named on the page. The diagnoses are the plan's as
they stood when the note was signed (from the plan's history), since a plan's diagnoses may
change later while the note may not.
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from apps.assessments.models import MeasureKind
from apps.ops.policy import clinic_policy
from apps.visits.codes import procedures
from apps.visits.models import PlanDiagnosis, VisitNote
from hipclinic.zones import clinic_zone


def note_pdf_filename(note: VisitNote) -> str:
    return f"visit-note-{note.pk}.pdf"


def render_note_pdf(note: VisitNote) -> bytes:
    """The PDF of a signed note (callers refuse drafts with a message; this refuses them too)."""
    from weasyprint import HTML  # imported when used: it loads Pango, which the web process needs only here

    if not note.is_signed:
        raise ValueError("A draft has no PDF: sign it first.")
    zone = clinic_zone()
    with timezone.override(zone):  # |date shows the clinic's wall clock, whatever zone the request activated
        html = render_to_string("visits/note_pdf.html", {
            "note": note, "clinic": clinic_policy(), "zone": zone.key, "printed_at": timezone.now(),
            "addenda": list(note.addenda.select_related("author").order_by("signed_at", "id")),
            "diagnoses": diagnoses_when_signed(note),
            "goals": [{**row, "measure_label": _measure_label(row.get("measure"))} for row in note.goal_review],
            "minutes": treatment_rows(note.treatment_minutes),
            "timed_minutes": sum(row["minutes"] for row in treatment_rows(note.treatment_minutes) if row["timed"]),
        })
    return HTML(string=html, url_fetcher=_fetch_nothing).write_pdf()


def diagnoses_when_signed(note: VisitNote) -> list:
    """The plan's diagnoses as recorded at the moment of signing, in their order.

    Rows written without history (none are, through the services) fall back to the plan's
    current diagnoses rather than to none.
    """
    history = (PlanDiagnosis.history.filter(plan_id=note.plan_of_care_id, history_date__lte=note.signed_at)
               .latest_of_each().exclude(history_type="-"))
    rows = list(history) or list(PlanDiagnosis.objects.filter(plan_id=note.plan_of_care_id))
    return sorted(rows, key=lambda row: (row.position, row.id))


def treatment_rows(minutes: list[dict]) -> list[dict]:
    rows, known = [], procedures()
    for row in minutes:
        procedure = known.get(row.get("code"))
        rows.append({"code": row.get("code"), "minutes": row.get("minutes"),
                     "label": procedure.label if procedure else "", "timed": bool(procedure and procedure.timed)})
    return rows


def _measure_label(measure: str | None) -> str:
    if not measure:
        return ""
    return MeasureKind(measure).label if measure in MeasureKind.values else measure


def _fetch_nothing(url: str, *args, **kwargs):
    # The template is self-contained (fonts from the system); nothing in a note may make
    # the renderer open a file or a URL.
    raise ValueError(f"the note PDF loads no resources ({url[:40]!r} refused)")
