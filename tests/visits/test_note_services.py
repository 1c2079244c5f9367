"""Writing, signing, co-signing and correcting visit notes through the services."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from apps.visits import selectors, services
from apps.visits.models import Addendum, NoteKind, NoteStatus, PlanStatus, VisitNote
from tests.conftest import PASSWORD
from tests.factories import SessionLogFactory, UserFactory


def messages(error: ValidationError) -> str:
    return " ".join(m for ms in error.message_dict.values() for m in ms) if hasattr(error, "error_dict") \
        else " ".join(error.messages)


def test_a_note_starts_pre_filled_from_the_home_program_logs(patient, therapist, plan_of_care, visit, prescribe):
    program = prescribe(patient, therapist, "seated-knee-raise")
    plan_of_care(program=program)
    SessionLogFactory(program=program, pain_during=3, session_date=patient.today())
    appointment = visit(days_ago=0.01)

    note = services.start_note(appointment=appointment, author=therapist)

    assert note.status == NoteStatus.DRAFT
    assert "1 sessions logged" in note.subjective
    assert "Pain during exercise: 3-3/10" in note.subjective
    assert "Seated knee raise" in note.plan or "knee" in note.plan.lower()


def test_signing_locks_the_note_and_stores_its_hash(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    services.save_note(note=note, edited_by=therapist, treatment_minutes=[{"code": "97110", "minutes": 23}])

    signed = services.sign_note(note=note, signer=therapist, password=PASSWORD)

    assert signed.status == NoteStatus.SIGNED and len(signed.content_hash) == 64
    assert selectors.hash_mismatches() == []
    with pytest.raises(ValidationError, match="signed and locked"):
        services.save_note(note=signed, edited_by=therapist, subjective="changed")


def test_the_database_refuses_to_change_or_delete_a_signed_note(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.sign_note(note=services.start_note(appointment=visit(), author=therapist), signer=therapist,
                              password=PASSWORD)
    with pytest.raises(DatabaseError), transaction.atomic():
        VisitNote.objects.filter(pk=note.pk).update(subjective="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        VisitNote.objects.filter(pk=note.pk).delete()
    note.refresh_from_db()
    assert note.subjective != "rewritten"


def test_signing_needs_the_password_again(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    with pytest.raises(ValidationError) as refused:
        services.sign_note(note=note, signer=therapist, password="wrong")
    assert "password" in refused.value.message_dict
    note.refresh_from_db()
    assert note.status == NoteStatus.DRAFT


def test_an_empty_note_cannot_be_signed(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    services.save_note(note=note, edited_by=therapist, assessment="  ")
    with pytest.raises(ValidationError) as refused:
        services.sign_note(note=note, signer=therapist, password=PASSWORD)
    assert set(refused.value.message_dict) == {"assessment"}


@pytest.mark.parametrize("status", ["cancelled", "no_show", "booked"])
def test_no_note_for_a_visit_that_did_not_happen(patient, therapist, plan_of_care, visit, status):
    plan_of_care()
    with pytest.raises(ValidationError) as refused:
        services.start_note(appointment=visit(status=status), author=therapist)
    assert "appointment" in refused.value.message_dict


def test_no_note_for_a_future_visit(patient, therapist, plan_of_care, visit):
    plan_of_care()
    with pytest.raises(ValidationError, match="not happened yet"):
        services.start_note(appointment=visit(days_ago=-1, status="checked_in"), author=therapist)


def test_one_note_per_appointment(patient, therapist, plan_of_care, visit):
    plan_of_care()
    appointment = visit()
    services.start_note(appointment=appointment, author=therapist)
    with pytest.raises(ValidationError, match="already has a note"):
        services.start_note(appointment=appointment, author=therapist)
    assert VisitNote.objects.count() == 1


def test_an_assistant_writes_daily_notes_only_and_a_therapist_cosigns(patient, therapist, assistant, plan_of_care,
                                                                       visit):
    plan_of_care()
    with pytest.raises(ValidationError, match="therapist writes the progress report"):
        services.start_note(appointment=visit(), author=assistant, kind=NoteKind.PROGRESS)
    note = services.start_note(appointment=visit(days_ago=2), author=assistant)
    note = services.sign_note(note=note, signer=assistant, password=PASSWORD)
    assert note.status == NoteStatus.AWAITING_COSIGNATURE
    assert list(selectors.awaiting_cosignature(now=note.signed_at)) == []  # not late yet

    with pytest.raises(ValidationError, match="own note"):
        services.cosign_note(note=note, therapist=assistant, password=PASSWORD)
    note = services.cosign_note(note=note, therapist=therapist, password=PASSWORD)
    assert note.status == NoteStatus.SIGNED and note.cosigned_by == therapist
    assert selectors.hash_mismatches() == []


def test_a_therapist_cannot_cosign_their_own_note(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.sign_note(note=services.start_note(appointment=visit(), author=therapist), signer=therapist,
                              password=PASSWORD)
    with pytest.raises(ValidationError, match="own note"):
        services.cosign_note(note=note, therapist=therapist, password=PASSWORD)


def test_addenda_follow_a_signed_note_and_never_change(patient, therapist, plan_of_care, visit):
    plan_of_care()
    draft = services.start_note(appointment=visit(), author=therapist)
    with pytest.raises(ValidationError, match="not signed yet"):
        services.add_addendum(note=draft, author=therapist, reason="typo", text="x", password=PASSWORD)
    note = services.sign_note(note=draft, signer=therapist, password=PASSWORD)
    addendum = services.add_addendum(note=note, author=therapist, reason="Late entry", text="Ice applied 10 min.",
                                     password=PASSWORD)
    assert len(addendum.content_hash) == 64 and selectors.hash_mismatches() == []
    with pytest.raises(DatabaseError), transaction.atomic():
        Addendum.objects.filter(pk=addendum.pk).update(text="changed")


def test_a_discharge_summary_closes_the_plan(patient, therapist, plan_of_care, visit):
    plan = plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist, kind=NoteKind.DISCHARGE)
    assert note.goal_review[0]["goal"] == "Climb stairs without a rail"
    services.sign_note(note=note, signer=therapist, password=PASSWORD)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DISCHARGED


def test_diagnoses_must_be_icd10cm_codes(patient, therapist, plan_of_care):
    with pytest.raises(ValidationError) as refused:
        plan_of_care(diagnoses=[("hip pain", "")])
    assert "diagnoses" in refused.value.message_dict
    plan = plan_of_care(diagnoses=[("m1611", ""), ("S72.001", "Fracture of the right femoral neck")])
    assert [(d.code, d.description) for d in plan.diagnoses.all()] == [
        ("M16.11", "Primary osteoarthritis of the right hip"), ("S72.001", "Fracture of the right femoral neck")]


def test_only_staff_with_a_clinical_role_write_notes(patient, therapist, plan_of_care, visit):
    plan_of_care()
    desk = UserFactory(role="front_desk")
    with pytest.raises(ValidationError):
        services.start_note(appointment=visit(), author=desk)


def test_signing_the_note_of_a_checked_in_visit_completes_it(patient, therapist, plan_of_care, visit):
    plan_of_care()
    appointment = visit(status="checked_in")
    note = services.start_note(appointment=appointment, author=therapist)

    services.sign_note(note=note, signer=therapist, password=PASSWORD)

    appointment.refresh_from_db()
    assert appointment.status == "completed"
    assert appointment.status_changes.get().changed_by == therapist


def test_a_draft_turned_into_a_progress_report_reviews_the_goals(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    assert note.goal_review == []
    note = services.save_note(note=note, edited_by=therapist, kind=NoteKind.PROGRESS)
    assert [row["goal"] for row in note.goal_review] == ["Climb stairs without a rail"]


@pytest.mark.parametrize("started_on", ["0001-01-01", "9999-12-31"])
def test_a_plan_cannot_start_at_the_ends_of_the_calendar(patient, therapist, plan_of_care, started_on):
    from datetime import date

    with pytest.raises(ValidationError) as refused:
        plan_of_care(started_on=date.fromisoformat(started_on))
    assert "started_on" in refused.value.message_dict


def test_an_addendum_may_correct_the_minutes_and_says_so_in_its_hash(patient, therapist, plan_of_care, visit):
    plan_of_care()
    note = services.start_note(appointment=visit(), author=therapist)
    services.save_note(note=note, edited_by=therapist, treatment_minutes=[{"code": "97110", "minutes": 23}])
    note = services.sign_note(note=note, signer=therapist, password=PASSWORD)
    with pytest.raises(ValidationError):
        services.add_addendum(note=note, author=therapist, reason="Minutes", text="x", password=PASSWORD,
                              treatment_minutes=[{"code": "97110", "minutes": -3}])

    services.add_addendum(note=note, author=therapist, reason="Minutes were wrong", text="33, not 23.",
                          password=PASSWORD, treatment_minutes=[{"code": "97110", "minutes": 33}])

    note.refresh_from_db()
    assert note.treatment_minutes == [{"code": "97110", "minutes": 23}]  # the signed note never changes
    assert services.current_minutes(note) == [{"code": "97110", "minutes": 33}]
    assert selectors.hash_mismatches() == []
