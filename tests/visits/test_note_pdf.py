"""The PDF of a signed note: the clinic, the patient, the visit in the clinic's zone, signatures, addenda, hashes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from time import perf_counter
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from pypdf import PdfReader

from apps.visits import pdf, services
from tests.conftest import PASSWORD

NEW_YORK = ZoneInfo("America/New_York")


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace folded (WeasyPrint may break a line anywhere a browser would)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def a_week_ago_at_10_30_in_new_york() -> datetime:
    day = timezone.now().astimezone(NEW_YORK).date() - timedelta(days=7)
    return datetime.combine(day, time(10, 30), tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def signed_note(settings, clinic_policy, patient, therapist, assistant, plan_of_care, visit):
    """An assistant's progress-day note, signed, not yet co-signed, with an addendum by the therapist."""
    settings.CLINIC_TIME_ZONE = "America/New_York"
    clinic_policy(clinic_name="Riverside Hip Clinic", address="12 Mill Lane\nSpringfield", phone="+1 555 0100")
    therapist.first_name, therapist.last_name = "Theo", "Therapist"
    therapist.save()
    assistant.first_name, assistant.last_name = "Ada", "Assistant"
    assistant.save()
    plan_of_care(diagnoses=[("M16.11", ""), ("M62.81", "")])
    note = services.start_note(appointment=visit(at=a_week_ago_at_10_30_in_new_york()), author=assistant)
    services.save_note(note=note, edited_by=assistant, subjective="Stairs easier this week.",
                       objective="Hip flexion 4/5 right.", assessment="Progressing as planned.",
                       plan="Continue program; review in a week.",
                       treatment_minutes=[{"code": "97110", "minutes": 23}, {"code": "97140", "minutes": 8}])
    note = services.sign_note(note=note, signer=assistant, password=PASSWORD)
    services.add_addendum(note=note, author=therapist, reason="Late entry",
                          text="Ice applied for 10 minutes after exercise.", password=PASSWORD)
    return note


def test_the_pdf_carries_the_clinic_patient_signatures_addendum_and_hashes(signed_note, patient, report_figure):
    note = signed_note
    addendum = note.addenda.get()
    data = pdf.render_note_pdf(note)

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in [
        "Riverside Hip Clinic", "12 Mill Lane", "Springfield", "+1 555 0100",
        f"Pat Example, record {patient.record_number}", patient.date_of_birth.strftime("%-d %B %Y"),
        "Daily note", f"{note.appointment.start.astimezone(NEW_YORK):%A %-d %B %Y}, 10:30 (America/New_York)",
        "M16.11 Primary osteoarthritis of the right hip", "M62.81 Muscle weakness, generalized",
        "Stairs easier this week.", "Hip flexion 4/5 right.", "Progressing as planned.",
        "97110 Therapeutic exercise 23", "97140 Manual therapy 8", "Total timed minutes 31",
        "Electronically signed by Ada Assistant", "Awaiting co-signature by a therapist.",
        note.content_hash,
        "signed by Theo Therapist", "Reason: Late entry", "Ice applied for 10 minutes after exercise.",
        addendum.content_hash,
    ]:
        assert expected in text, expected
    assert text.index("Progressing as planned.") < text.index("Ice applied for 10 minutes")  # addenda come after

    started = perf_counter()
    for _ in range(3):
        pdf.render_note_pdf(note)
    pages = len(PdfReader(io.BytesIO(data)).pages)
    report_figure(f"note PDF ({pages} page, 1 addendum): {(perf_counter() - started) / 3 * 1000:.0f} ms "
                  f"per render after the process's first, {len(data) / 1024:.0f} KiB")


def test_a_cosigned_note_shows_the_cosignature(signed_note, therapist):
    note = services.cosign_note(note=signed_note, therapist=therapist, password=PASSWORD)
    text = pdf_text(pdf.render_note_pdf(note))
    assert "Co-signed by Theo Therapist on" in text
    assert "Awaiting co-signature" not in text


def test_the_diagnoses_are_those_of_the_plan_when_the_note_was_signed(signed_note, therapist):
    services.update_plan(plan=signed_note.plan_of_care, changed_by=therapist, diagnoses=[("S72.001", "Hip fracture")])
    text = pdf_text(pdf.render_note_pdf(signed_note))
    assert "M16.11 Primary osteoarthritis of the right hip" in text
    assert "S72.001" not in text


def test_note_text_is_escaped_and_loads_nothing(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    services.save_note(note=note, edited_by=therapist,
                       subjective='<img src="file:///etc/passwd"> <b>bold?</b> & "quoted"')
    note = services.sign_note(note=note, signer=therapist, password=PASSWORD)
    text = pdf_text(pdf.render_note_pdf(note))
    assert '<img src="file:///etc/passwd"> <b>bold?</b> & "quoted"' in text


def test_a_draft_has_no_pdf(patient, therapist, plan_of_care, visit):
    plan_of_care()
    with pytest.raises(ValueError, match="draft"):
        pdf.render_note_pdf(services.start_note(appointment=visit(), author=therapist))
