"""Plans of care and visit notes through the API: the workflow, every refusal with its field, who may
do what, the access log and the query budgets."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.lockout import LOCKED_OUT_MESSAGE
from apps.accounts.services import CODE_MISSING, CODE_WRONG
from apps.ops.models import AccessLog
from apps.scheduling.models import Appointment
from apps.visits import services
from apps.visits.models import Addendum, NoteStatus, PlanOfCare, PlanStatus, VisitNote
from hipclinic.zones import clinic_today
from tests.conftest import PASSWORD
from tests.factories import AppointmentFactory, PatientFactory, UserFactory
from tests.openapi import assert_documented, served_schema
from tests.visits.conftest import one_time_code

pytestmark = pytest.mark.django_db

PLANS, NOTES = "/api/v1/plans-of-care/", "/api/v1/visit-notes/"


@pytest.fixture
def as_user(api_client):
    """``as_user(user)``: the API client signed in as ``user``."""

    def sign_in(user):
        api_client.force_authenticate(user)
        return api_client

    return sign_in


@pytest.fixture
def draft(therapist, plan_of_care, visit):
    """A therapist's draft daily note of yesterday's completed visit, on the patient's open plan."""
    plan_of_care()
    return services.start_note(appointment=visit(), author=therapist)


def signed(note, user):
    return services.sign_note(note=note, signer=user, password=PASSWORD)


def note_url(note, action: str = "") -> str:
    return f"{NOTES}{note.pk}/{action + '/' if action else ''}"


# ---------------------------------------------------------------------------- the workflow


def test_a_therapist_writes_a_plan_then_starts_edits_signs_amends_and_prints_a_note(as_user, therapist, patient,
                                                                                    rota, visit):
    api = as_user(therapist)
    started_on = (clinic_today() - timedelta(days=14)).isoformat()
    created = api.post(PLANS, {
        "patient": patient.pk, "visits_per_week": 2, "duration_weeks": 6, "started_on": started_on,
        "treatment": "Therapeutic exercise", "diagnoses": [{"code": "m1611"}, {"code": "S72.001",
                                                                              "description": "Femoral neck fracture"}],
        "goals": [{"description": "Climb stairs without a rail", "measure": "lefs", "target": 60}],
    })
    assert created.status_code == 201, created.json()
    plan = created.json()
    assert plan["therapist"] == therapist.pk and plan["status"] == "open" and plan["created_by"] == therapist.pk
    assert plan["diagnoses"] == [{"code": "M16.11", "description": "Primary osteoarthritis of the right hip"},
                                 {"code": "S72.001", "description": "Femoral neck fracture"}]
    assert plan["goals"] == [{"description": "Climb stairs without a rail", "measure": "lefs", "target": "60.0"}]
    assert plan["certifications"] == [] and isinstance(plan["due"], list)

    certified = api.post(f"{PLANS}{plan['id']}/certifications/", {"signed_on": started_on, "clinician": "Dr Example"})
    assert certified.status_code == 201, certified.json()
    assert [c["clinician"] for c in certified.json()["certifications"]] == ["Dr Example"]
    assert [d["what"] for d in certified.json()["due"]][:1] == ["recertification"]

    appointment = visit()
    started = api.post(NOTES, {"appointment": appointment.pk})
    assert started.status_code == 201, started.json()
    note = started.json()
    assert note["status"] == "draft" and note["kind"] == "daily" and note["plan_of_care"] == plan["id"]
    assert note["author"] == therapist.pk and note["subjective"]  # pre-filled
    url = f"{NOTES}{note['id']}/"

    edited = api.patch(url, {"assessment": "Tolerated well.", "treatment_minutes": [{"code": "97110", "minutes": 23}]})
    assert edited.status_code == 200, edited.json()
    assert edited.json()["treatment_minutes"] == [{"code": "97110", "minutes": 23}]

    signed_note = api.post(url + "sign/", {"password": PASSWORD})
    assert signed_note.status_code == 200, signed_note.json()
    assert signed_note.json()["status"] == "signed" and len(signed_note.json()["content_hash"]) == 64

    added = api.post(url + "addenda/", {"reason": "Late entry", "text": "Ice 10 minutes.", "password": PASSWORD})
    assert added.status_code == 201, added.json()
    assert set(added.json()) == {"id", "author", "signed_at", "reason", "text", "content_hash"}

    read = api.get(url).json()
    assert list(read)[-1] == "addenda"  # after the note's own fields
    assert [(a["author"], a["reason"], a["text"]) for a in read["addenda"]] == [
        (therapist.pk, "Late entry", "Ice 10 minutes.")]
    assert len(read["addenda"][0]["content_hash"]) == 64 and read["addenda"][0]["signed_at"]
    assert api.get(url + "addenda/").json() == read["addenda"]

    printed = api.get(url + "pdf/")
    assert printed.status_code == 200
    assert printed["Content-Type"] == "application/pdf"
    assert printed["Content-Disposition"] == f'inline; filename="visit-note-{note["id"]}.pdf"'
    assert printed.content.startswith(b"%PDF")


def test_an_assistants_note_awaits_a_therapists_cosignature(as_user, therapist, assistant, plan_of_care, visit):
    plan_of_care()
    api = as_user(assistant)
    note = api.post(NOTES, {"appointment": visit().pk, "kind": "daily"}).json()
    url = f"{NOTES}{note['id']}/"
    assert api.post(url + "sign/", {"password": PASSWORD}).json()["status"] == "awaiting"

    cosigned = as_user(therapist).post(url + "cosign/", {"password": PASSWORD, "code": ""})

    assert cosigned.status_code == 200, cosigned.json()
    assert cosigned.json()["status"] == "signed" and cosigned.json()["cosigned_by"] == therapist.pk


def test_a_user_with_two_factor_signs_with_the_current_code(as_user, therapist, draft):
    TOTPDevice.objects.create(user=therapist, name="phone", confirmed=True)
    api = as_user(therapist)

    wrong = api.post(note_url(draft, "sign"), {"password": PASSWORD, "code": "000000"})
    assert wrong.status_code == 400
    assert wrong.json()["code"] == [CODE_WRONG]
    missing = api.post(note_url(draft, "sign"), {"password": PASSWORD})
    assert missing.status_code == 400 and missing.json()["code"] == [CODE_MISSING]
    TOTPDevice.objects.get(user=therapist).throttle_reset()  # django-otp's wait after a wrong code, skipped

    right = api.post(note_url(draft, "sign"), {"password": PASSWORD, "code": one_time_code(therapist)})
    assert right.status_code == 200, right.json()


def test_wrong_signing_passwords_lock_the_signer_out_like_wrong_sign_ins(as_user, therapist, draft, settings):
    api = as_user(therapist)
    answers = [api.post(note_url(draft, "sign"), {"password": "guess"}) for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert [a.json() for a in answers[:-1]] == [{"password": ["That is not your password."]}] * (len(answers) - 1)

    locked = api.post(note_url(draft, "sign"), {"password": PASSWORD})

    for answer in (answers[-1], locked):  # the wrong answer that locks, and the right one after it
        assert answer.status_code == 429 and answer.json() == {"detail": LOCKED_OUT_MESSAGE}
    draft.refresh_from_db()
    assert draft.status == NoteStatus.DRAFT
    assert_documented(served_schema(api), locked, "POST", NOTES + "{id}/sign/")


def test_a_draft_is_discarded_but_a_signed_note_is_never_deleted(as_user, therapist, draft, visit):
    api = as_user(therapist)
    assert api.delete(note_url(draft)).status_code == 204
    assert not VisitNote.objects.filter(pk=draft.pk).exists()

    note = signed(services.start_note(appointment=visit(days_ago=2), author=therapist), therapist)
    refused = api.delete(note_url(note))
    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == ["This note is signed and locked: add an addendum instead."]
    assert VisitNote.objects.filter(pk=note.pk).exists()


def test_a_plan_is_changed_while_open_and_its_lists_are_replaced(as_user, therapist, plan_of_care):
    plan = plan_of_care()
    api = as_user(therapist)
    url = f"{PLANS}{plan.pk}/"

    changed = api.patch(url, {"visits_per_week": 3, "diagnoses": [{"code": "M16.12"}], "goals": []})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["visits_per_week"] == 3 and changed.json()["goals"] == []
    assert [d["code"] for d in changed.json()["diagnoses"]] == ["M16.12"]
    assert api.patch(url, {"patient": PatientFactory().pk}).json()["patient"] == [
        "A plan's patient does not change: open a new plan for them."]

    PlanOfCare.objects.filter(pk=plan.pk).update(status=PlanStatus.DISCHARGED)
    closed = api.patch(url, {"visits_per_week": 2})
    assert closed.status_code == 400
    assert closed.json()["non_field_errors"] == ["This plan was discharged: open a new plan for a new episode."]


def test_lists_filter_by_patient_status_and_kind(as_user, therapist, manager, draft, visit):
    note = signed(services.start_note(appointment=visit(days_ago=2), author=therapist, kind="progress"), therapist)
    api = as_user(manager)

    assert [n["id"] for n in api.get(NOTES).json()["results"]] == [note.pk, draft.pk]
    assert [n["id"] for n in api.get(NOTES, {"status": "draft"}).json()["results"]] == [draft.pk]
    assert [n["id"] for n in api.get(NOTES, {"kind": "progress"}).json()["results"]] == [note.pk]
    assert api.get(NOTES, {"patient": PatientFactory().pk}).json()["count"] == 0
    assert api.get(NOTES, {"author": therapist.pk}).json()["count"] == 2
    assert api.get(PLANS, {"patient": draft.patient_id, "status": "open"}).json()["count"] == 1
    assert api.get(PLANS, {"status": "discharged"}).json()["count"] == 0
    assert api.get(NOTES, {"status": "maybe"}).status_code == 400


# ---------------------------------------------------------------------------- refusals, by field


def test_an_empty_note_cannot_be_signed(as_user, therapist, draft):
    api = as_user(therapist)
    api.patch(note_url(draft), {"assessment": "  ", "plan": ""})

    refused = api.post(note_url(draft, "sign"), {"password": PASSWORD})

    assert refused.status_code == 400
    assert refused.json() == {"assessment": ["Assessment is empty."], "plan": ["Plan is empty."]}


@pytest.mark.parametrize("status", ["cancelled", "no_show"])
def test_no_note_for_a_cancelled_or_missed_visit(as_user, therapist, plan_of_care, visit, status):
    plan_of_care()
    refused = as_user(therapist).post(NOTES, {"appointment": visit(status=status).pk})

    assert refused.status_code == 400
    assert "there is no visit to write up" in refused.json()["appointment"][0]


def test_no_note_for_a_future_visit(as_user, therapist, plan_of_care, visit):
    plan_of_care()
    refused = as_user(therapist).post(NOTES, {"appointment": visit(days_ago=-1, status="booked").pk})

    assert refused.status_code == 400
    assert refused.json()["appointment"] == ["This visit has not happened yet: check the patient in first."]


def test_a_note_whose_visit_was_cancelled_or_moved_ahead_cannot_be_signed(as_user, therapist, draft):
    api = as_user(therapist)
    Appointment.objects.filter(pk=draft.appointment_id).update(status="cancelled")
    cancelled = api.post(note_url(draft, "sign"), {"password": PASSWORD})
    assert cancelled.status_code == 400
    assert cancelled.json()["appointment"] == ["This appointment is cancelled: there is no visit to sign for."]

    appointment = Appointment.objects.get(pk=draft.appointment_id)
    Appointment.objects.filter(pk=appointment.pk).update(
        status="completed", start=appointment.start + timedelta(days=3), end=appointment.end + timedelta(days=3))
    future = api.post(note_url(draft, "sign"), {"password": PASSWORD})
    assert future.status_code == 400
    assert future.json()["appointment"] == ["This visit is in the future."]


def test_nobody_cosigns_their_own_note(as_user, therapist, draft):
    note = signed(draft, therapist)

    refused = as_user(therapist).post(note_url(note, "cosign"), {"password": PASSWORD})

    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == ["You cannot co-sign your own note."]


def test_an_addendum_needs_a_signed_note(as_user, therapist, draft):
    refused = as_user(therapist).post(note_url(draft, "addenda"),
                                      {"reason": "Typo", "text": "Left, not right.", "password": PASSWORD})

    assert refused.status_code == 400
    assert refused.json()["non_field_errors"] == ["This note is not signed yet: change the draft instead."]
    assert not Addendum.objects.exists()


def test_one_note_per_appointment(as_user, therapist, draft):
    refused = as_user(therapist).post(NOTES, {"appointment": draft.appointment_id})

    assert refused.status_code == 400
    assert refused.json()["appointment"] == ["This visit already has a note."]
    assert VisitNote.objects.count() == 1


def test_an_assistant_cannot_write_a_progress_report(as_user, assistant, plan_of_care, visit):
    plan_of_care()
    api = as_user(assistant)

    refused = api.post(NOTES, {"appointment": visit().pk, "kind": "progress"})
    assert refused.status_code == 400
    assert refused.json()["kind"] == ["An assistant writes daily notes; a therapist writes the progress report."]

    note = api.post(NOTES, {"appointment": visit(days_ago=2).pk}).json()
    changed = api.patch(f"{NOTES}{note['id']}/", {"kind": "discharge"})
    assert changed.status_code == 400
    assert changed.json()["kind"] == ["An assistant writes daily notes; a therapist writes the discharge summary."]


def test_a_wrong_password_is_refused_and_never_echoed(as_user, therapist, draft, caplog):
    caplog.set_level(logging.DEBUG)
    api = as_user(therapist)

    refused = api.post(note_url(draft, "sign"), {"password": "not-my-password-xyz", "code": "123456"})
    assert refused.status_code == 400
    assert refused.json() == {"password": ["That is not your password."]}
    accepted = api.post(note_url(draft, "sign"), {"password": PASSWORD, "code": ""})
    assert accepted.status_code == 200
    assert "password" not in accepted.json() and "code" not in accepted.json()
    for secret in ("not-my-password-xyz", PASSWORD):
        assert secret not in refused.content.decode() + accepted.content.decode()
        assert secret not in caplog.text
    draft.refresh_from_db()
    assert draft.status == NoteStatus.SIGNED


def test_an_addendum_needs_the_password_a_reason_and_a_text(as_user, therapist, draft):
    note = signed(draft, therapist)
    api = as_user(therapist)

    assert api.post(note_url(note, "addenda"), {"reason": "", "text": "x", "password": PASSWORD}).json()["reason"]
    wrong = api.post(note_url(note, "addenda"), {"reason": "Late entry", "text": "x", "password": "wrong"})
    assert wrong.status_code == 400 and wrong.json() == {"password": ["That is not your password."]}
    assert not Addendum.objects.exists()


def test_only_the_author_edits_a_draft_and_nobody_edits_a_signed_note(as_user, therapist, draft):
    colleague = UserFactory(role="therapist")
    other = as_user(colleague).patch(note_url(draft), {"subjective": "Mine now."})
    assert other.status_code == 400
    assert other.json()["non_field_errors"] == ["Only the note's author changes or signs a draft."]

    signed(draft, therapist)
    locked = as_user(therapist).patch(note_url(draft), {"subjective": "Changed."})
    assert locked.status_code == 400
    assert locked.json()["non_field_errors"] == ["This note is signed and locked: add an addendum instead."]


def test_a_draft_has_no_pdf(as_user, therapist, draft):
    refused = as_user(therapist).get(note_url(draft, "pdf"), HTTP_ACCEPT="application/pdf")

    assert refused.status_code == 409
    assert refused.json() == {"detail": "A draft has no PDF: sign it first."}
    assert not AccessLog.objects.exists()


def test_treatment_minutes_and_text_are_checked_before_the_service(as_user, therapist, draft):
    api = as_user(therapist)

    unknown = api.patch(note_url(draft), {"treatment_minutes": [{"code": "99999", "minutes": 10}]})
    assert unknown.status_code == 400
    assert unknown.json()["treatment_minutes"] == ["'99999' is not one of the procedure codes hipclinic records."]
    twice = api.patch(note_url(draft), {"treatment_minutes": [{"code": "97110", "minutes": 10},
                                                              {"code": "97110", "minutes": 5}]})
    assert twice.status_code == 400
    assert twice.json()["treatment_minutes"] == ["97110 is listed twice; add its minutes together."]
    nul = api.patch(note_url(draft), {"subjective": "Pain \x00 free"})
    assert nul.status_code == 400 and "subjective" in nul.json()


def test_a_certification_is_for_therapists_and_not_in_the_future(as_user, therapist, assistant, manager,
                                                                 plan_of_care):
    plan = plan_of_care()
    url = f"{PLANS}{plan.pk}/certifications/"
    body = {"signed_on": clinic_today().isoformat(), "clinician": "Dr Example"}
    assert as_user(assistant).post(url, body).status_code == 403
    assert as_user(manager).post(url, body).status_code == 403

    future = as_user(therapist).post(url, {**body, "signed_on": (clinic_today() + timedelta(days=1)).isoformat()})
    assert future.status_code == 400
    assert future.json()["signed_on"] == ["A signature date cannot be in the future."]


def test_a_second_open_plan_for_a_patient_is_refused(as_user, therapist, patient, plan_of_care):
    plan_of_care()
    refused = as_user(therapist).post(PLANS, {"patient": patient.pk, "visits_per_week": 2, "duration_weeks": 4,
                                              "diagnoses": [{"code": "M62.81"}]})

    assert refused.status_code == 400
    assert "already has an open plan of care" in refused.json()["patient"][0], refused.json()


@pytest.mark.parametrize("started_on", ["0001-01-01", "9999-12-31", "far ahead"])
def test_a_plan_starts_on_a_date_the_clock_can_count_from(as_user, therapist, patient, started_on):
    if started_on == "far ahead":
        started_on = (clinic_today() + timedelta(days=366)).isoformat()
    refused = as_user(therapist).post(PLANS, {"patient": patient.pk, "visits_per_week": 2, "duration_weeks": 52,
                                              "started_on": started_on, "diagnoses": [{"code": "M62.81"}]})

    assert refused.status_code == 400
    assert refused.json()["started_on"][0].startswith("Enter a date from 1 Jan 1901 to ")
    assert not PlanOfCare.objects.exists()


def test_a_plan_needs_icd10cm_diagnoses(as_user, therapist, patient):
    refused = as_user(therapist).post(PLANS, {"patient": patient.pk, "visits_per_week": 2, "duration_weeks": 4,
                                              "diagnoses": [{"code": "hip pain"}]})

    assert refused.status_code == 400
    assert "is not an ICD-10-CM code" in refused.json()["diagnoses"][0]


# ---------------------------------------------------------------------------- who may, and the access log


def test_reading_a_plan_a_note_its_addenda_or_its_pdf_writes_the_access_log(as_user, manager, therapist, draft):
    note = signed(draft, therapist)
    api = as_user(manager)

    api.get(f"{PLANS}{note.plan_of_care_id}/")
    api.get(note_url(note))
    api.get(note_url(note, "addenda"))
    api.get(note_url(note, "pdf"))
    api.get(NOTES)  # lists are not logged, as elsewhere in the API

    rows = list(AccessLog.objects.order_by("id").values_list("user", "record_type", "record_id", "patient_id", "via"))
    assert rows == [(manager.pk, "visits.planofcare", str(note.plan_of_care_id), note.patient_id, "api"),
                    *[(manager.pk, "visits.visitnote", str(note.pk), note.patient_id, "api")] * 3]


def test_the_front_desk_gets_403_from_every_visits_endpoint(as_user, frontdesk, therapist, draft):
    note = signed(draft, therapist)
    api = as_user(frontdesk)
    plan = f"{PLANS}{note.plan_of_care_id}/"
    calls = [("get", PLANS), ("post", PLANS), ("get", plan), ("patch", plan), ("post", plan + "certifications/"),
             ("get", NOTES), ("post", NOTES), ("get", note_url(note)), ("patch", note_url(note)),
             ("delete", note_url(note)), ("post", note_url(note, "sign")), ("post", note_url(note, "cosign")),
             ("get", note_url(note, "addenda")), ("post", note_url(note, "addenda")), ("get", note_url(note, "pdf"))]

    answers = {(method, url): getattr(api, method)(url, {"password": PASSWORD}).status_code for method, url in calls}

    assert answers == {call: 403 for call in calls}
    assert not AccessLog.objects.exists()


def test_an_assistant_cannot_write_a_plan(as_user, assistant, patient, plan_of_care):
    api = as_user(assistant)
    body = {"patient": patient.pk, "visits_per_week": 2, "duration_weeks": 4, "diagnoses": [{"code": "M62.81"}]}

    assert api.post(PLANS, body).status_code == 403
    plan = plan_of_care()
    assert api.patch(f"{PLANS}{plan.pk}/", {"visits_per_week": 3}).status_code == 403
    assert api.get(f"{PLANS}{plan.pk}/").status_code == 200


def test_the_answers_are_the_ones_the_schema_documents(as_user, therapist, draft):
    api = as_user(therapist)
    schema = served_schema(api)
    path = NOTES + "{id}/"

    assert_documented(schema, api.get(note_url(draft, "pdf")), "GET", path + "pdf/")
    assert_documented(schema, api.post(note_url(draft, "sign"), {"password": "x"}), "POST", path + "sign/")
    assert_documented(schema, api.get(note_url(draft)), "GET", path)
    assert_documented(schema, api.get(f"{PLANS}{draft.plan_of_care_id}/"), "GET", PLANS + "{id}/")
    note = signed(draft, therapist)
    assert_documented(schema, api.delete(note_url(note)), "DELETE", path)
    assert_documented(schema, api.get(note_url(note, "pdf")), "GET", path + "pdf/")
    assert_documented(schema, api.get(note_url(note, "addenda")), "GET", path + "addenda/")


# ---------------------------------------------------------------------------- query budgets


def add_plans(count: int, therapist, rota) -> None:
    """``count`` patients, each with an open, certified plan, two visits and a signed note with an addendum."""
    now = datetime.now(UTC).replace(microsecond=0)
    for _ in range(count):
        hours = timedelta(hours=PlanOfCare.objects.count())  # one visit at a time on the rota (no overlap)
        patient = PatientFactory()
        plan = services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=2,
                                    duration_weeks=6, started_on=clinic_today() - timedelta(days=20),
                                    diagnoses=[("M62.81", ""), ("M16.11", "")],
                                    goals=[{"description": "Stairs", "measure": "lefs", "target": 60}])
        services.record_certification(plan=plan, signed_on=plan.started_on, clinician="Dr Example",
                                      recorded_by=therapist)
        for days in (10, 3):
            done = AppointmentFactory(patient=patient, therapist=rota, status="completed",
                                      start=now - timedelta(days=days) - hours)
        note = signed(services.start_note(appointment=done, author=therapist), therapist)
        services.add_addendum(note=note, author=therapist, reason="Late entry", text="Ice.", password=PASSWORD)


def test_the_lists_cost_the_same_number_of_queries_at_2_and_12_plans(as_user, manager, therapist, rota,
                                                                     django_assert_num_queries):
    api = as_user(manager)
    api.get(PLANS)  # reads the manager's permissions once (kept on the user)
    # The plan list: the clinic's policy (the clock's rules), the count, the page, its diagnoses,
    # goals and certifications, then the clock's: its patients' visits, report notes and certification dates.
    # The note list: the policy (the late limits), the count, the page with its joins, its addenda.
    budgets = {PLANS: 9, NOTES: 4}
    for count in (2, 12):
        add_plans(count - PlanOfCare.objects.count(), therapist, rota)
        for url, queries in budgets.items():
            with django_assert_num_queries(queries):
                answer = api.get(url)
            assert answer.json()["count"] == count
    assert all(plan["due"] for plan in api.get(PLANS).json()["results"])
    assert all(note["addenda"] for note in api.get(NOTES).json()["results"])
