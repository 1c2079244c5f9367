"""A signed note as a PDF (WeasyPrint: HTML and CSS to PDF, no browser), with the clinic's details,
signatures, addenda and the content hash."""

from __future__ import annotations

from django.template.loader import render_to_string

from apps.ops.policy import clinic_policy
from apps.visits.models import VisitNote


def note_pdf_filename(note: VisitNote) -> str:
    return f"visit-note-{note.pk}.pdf"


def render_note_pdf(note: VisitNote) -> bytes:
    """The PDF of a signed note (callers refuse drafts)."""
    from weasyprint import HTML  # imported when used: it loads Pango, which the web process needs only here

    html = render_to_string("visits/note_pdf.html", {
        "note": note, "clinic": clinic_policy(), "addenda": list(note.addenda.all()),
        "diagnoses": list(note.plan_of_care.diagnoses.all()),
    })
    return HTML(string=html).write_pdf()
