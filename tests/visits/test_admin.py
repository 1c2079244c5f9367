"""Writing plans of care and visit notes in the admin, as therapists and assistants do."""

import pytest

from apps.ops.models import AccessLog
from apps.visits.models import NoteStatus, PlanOfCare, VisitNote
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.visits.conftest import one_time_code


@pytest.fixture
def signed_in_therapist(client, therapist):
    client.force_login(therapist)
    return client


def start(client, appointment, kind="daily"):
    return client.post(f"/admin/visits/visitnote/add/?appointment={appointment.pk}",
                       {"appointment": appointment.pk, "kind": kind})


def sign(client, note, user, password=PASSWORD):
    return client.post(f"/admin/visits/visitnote/{note.pk}/sign/", {"password": password,
                                                                    "code": one_time_code(user)})


def draft_data(note, **changes):
    return {"kind": note.kind, "subjective": note.subjective, "objective": note.objective,
            "assessment": note.assessment, "plan": note.plan, "minutes": "", **changes}


def test_a_therapist_starts_edits_and_signs_a_note(signed_in_therapist, therapist, plan_of_care, visit):
    plan_of_care()
    appointment = visit()

    page = signed_in_therapist.get(f"/admin/visits/visitnote/add/?appointment={appointment.pk}")
    assert page.status_code == 200 and b"Start the note" in page.content
    response = start(signed_in_therapist, appointment)
    note = VisitNote.objects.get(appointment=appointment)
    assert response.status_code == 302 and response["Location"].endswith(f"/{note.pk}/change/")

    response = signed_in_therapist.post(f"/admin/visits/visitnote/{note.pk}/change/",
                                        draft_data(note, assessment="Tolerated well.", minutes="97110 23\n97112 24"))
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.assessment == "Tolerated well."
    assert note.treatment_minutes == [{"code": "97110", "minutes": 23}, {"code": "97112", "minutes": 24}]

    refused = sign(signed_in_therapist, note, therapist, password="not-it")
    assert refused.status_code == 200 and "That is not your password" in refused.content.decode()
    assert sign(signed_in_therapist, note, therapist).status_code == 302
    note.refresh_from_db()
    assert note.status == NoteStatus.SIGNED


def test_minutes_that_are_not_a_known_code_are_refused_on_the_form(signed_in_therapist, plan_of_care, visit):
    plan_of_care()
    start(signed_in_therapist, visit())
    note = VisitNote.objects.get()
    response = signed_in_therapist.post(f"/admin/visits/visitnote/{note.pk}/change/",
                                        draft_data(note, minutes="12345 10\nlots"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Line 2" in text and "not one of the procedure codes" in text
    note.refresh_from_db()
    assert note.treatment_minutes == []


def test_a_signed_note_is_read_only_and_takes_addenda(signed_in_therapist, therapist, plan_of_care, visit):
    plan_of_care()
    start(signed_in_therapist, visit())
    note = VisitNote.objects.get()
    sign(signed_in_therapist, note, therapist)

    page = signed_in_therapist.get(f"/admin/visits/visitnote/{note.pk}/change/")
    assert page.status_code == 200
    assert b'name="subjective"' not in page.content and b"Add an addendum" in page.content
    assert signed_in_therapist.post(f"/admin/visits/visitnote/{note.pk}/change/",
                                    draft_data(note, subjective="rewritten")).status_code == 403

    response = signed_in_therapist.post(f"/admin/visits/visitnote/{note.pk}/addendum/", {
        "reason": "Late entry", "text": "Heat pack 10 minutes.", "password": PASSWORD,
        "code": one_time_code(therapist)})
    assert response.status_code == 302
    page = signed_in_therapist.get(f"/admin/visits/visitnote/{note.pk}/change/").content.decode()
    assert page.index("Heat pack 10 minutes.") > page.index("Subjective")


def test_the_pdf_of_a_signed_note_is_served_and_logged(signed_in_therapist, therapist, plan_of_care, visit):
    plan_of_care()
    start(signed_in_therapist, visit())
    note = VisitNote.objects.get()
    draft = signed_in_therapist.get(f"/admin/visits/visitnote/{note.pk}/pdf/")
    assert draft.status_code == 302  # a draft has no PDF
    sign(signed_in_therapist, note, therapist)

    response = signed_in_therapist.get(f"/admin/visits/visitnote/{note.pk}/pdf/")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AccessLog.objects.filter(record_type="visits.visitnote", record_id=str(note.pk), via="admin").exists()


def test_an_assistants_note_is_cosigned_by_a_therapist(client, therapist, assistant, plan_of_care, visit):
    plan_of_care()
    appointment = visit()
    client.force_login(assistant)
    start(client, appointment)
    note = VisitNote.objects.get()
    assert start(client, visit(days_ago=2), kind="progress").status_code == 200  # refused on the form
    assert sign(client, note, assistant).status_code == 302
    note.refresh_from_db()
    assert note.status == NoteStatus.AWAITING_COSIGNATURE
    assert client.get(f"/admin/visits/visitnote/{note.pk}/cosign/").status_code == 200  # the page, but...
    refused = client.post(f"/admin/visits/visitnote/{note.pk}/cosign/", {"password": PASSWORD})
    assert "own note" in refused.content.decode()

    client.force_login(therapist)
    page = client.get(f"/admin/visits/visitnote/{note.pk}/change/")
    assert b"Co-sign" in page.content
    response = client.post(f"/admin/visits/visitnote/{note.pk}/cosign/", {"password": PASSWORD,
                                                                         "code": one_time_code(therapist)})
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.status == NoteStatus.SIGNED and note.cosigned_by == therapist


def test_a_plan_of_care_is_written_with_its_diagnoses_and_goals(signed_in_therapist, therapist, patient):
    def data(**changes):
        return {"patient": patient.pk, "therapist": therapist.pk, "started_on": "2026-11-02",
                "visits_per_week": 2, "duration_weeks": 8, "treatment": "Therapeutic exercise",
                "diagnoses-TOTAL_FORMS": 2, "diagnoses-INITIAL_FORMS": 0,
                "diagnoses-0-code": "M16.11", "diagnoses-0-description": "",
                "diagnoses-1-code": "", "diagnoses-1-description": "",
                "goals-TOTAL_FORMS": 1, "goals-INITIAL_FORMS": 0,
                "goals-0-description": "Walk 30 minutes", "goals-0-measure": "lefs", "goals-0-target": "60",
                "certifications-TOTAL_FORMS": 0, "certifications-INITIAL_FORMS": 0, **changes}

    refused = signed_in_therapist.post("/admin/visits/planofcare/add/", data(**{"diagnoses-0-code": "hip"}))
    assert refused.status_code == 200 and "Not an ICD-10-CM code" in refused.content.decode()
    assert not PlanOfCare.objects.exists()

    response = signed_in_therapist.post("/admin/visits/planofcare/add/", data())
    assert response.status_code == 302, response.content.decode()[:3000]
    plan = PlanOfCare.objects.get()
    assert [(d.code, d.description) for d in plan.diagnoses.all()] == [
        ("M16.11", "Primary osteoarthritis of the right hip")]
    assert plan.goals.get().target == 60
    assert plan.history.count() == 1


@pytest.mark.parametrize("url", ["/admin/visits/visitnote/", "/admin/visits/planofcare/",
                                 "/admin/visits/visitnote/add/"])
def test_the_front_desk_sees_no_visit_notes_or_plans(db, client, url):
    client.force_login(UserFactory(role="front_desk"))
    assert client.get(url).status_code == 403


def test_the_chart_lists_the_plan_and_notes_with_their_pdf_for_clinicians_only(client, therapist, patient,
                                                                               plan_of_care, visit):
    from apps.visits import services

    plan_of_care()
    note = services.sign_note(note=services.start_note(appointment=visit(), author=therapist), signer=therapist,
                              password=PASSWORD)
    chart = f"/admin/patients/patient/{patient.pk}/change/"

    client.force_login(therapist)
    page = client.get(chart).content.decode()
    assert "Plan of care and visit notes" in page and f"/admin/visits/visitnote/{note.pk}/pdf/" in page
    assert "Certification by the referring clinician due by" in page  # the clock

    client.force_login(UserFactory(role="front_desk"))
    page = client.get(chart).content.decode()
    assert "Plan of care and visit notes" not in page and "visitnote" not in page


def test_wrong_passwords_on_the_sign_page_count_toward_the_lockout(signed_in_therapist, therapist, plan_of_care,
                                                                  visit, settings):
    from axes.models import AccessAttempt

    plan_of_care()
    start(signed_in_therapist, visit())
    note = VisitNote.objects.get()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        refused = sign(signed_in_therapist, note, therapist, password="not-it")
        assert "That is not your password" in refused.content.decode()
    assert AccessAttempt.objects.get(username=therapist.username).failures_since_start == \
        settings.AXES_FAILURE_LIMIT - 1

    sign(signed_in_therapist, note, therapist, password="not-it")  # the last allowed: now locked out
    locked = sign(signed_in_therapist, note, therapist)  # even with the right password
    note.refresh_from_db()
    assert note.status == NoteStatus.DRAFT and locked.status_code in {200, 403, 429}
