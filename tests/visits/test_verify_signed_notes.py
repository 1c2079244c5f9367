"""``manage.py verify_signed_notes``: every stored hash recomputed; a tampered row is named and fails the run.

Tampering needs the database's lock out of the way, as only an attacker with database
access or a test would do: on PostgreSQL through pgtrigger's documented bypass
(``pgtrigger.ignore``), on SQLite by dropping migration 0002's trigger inside the test's
transaction (put back before the check runs).
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from io import StringIO

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from apps.visits import services
from apps.visits.models import Addendum, VisitNote
from tests.conftest import PASSWORD

SQLITE_TRIGGERS = importlib.import_module("apps.visits.migrations.0002_curated_codes_and_sqlite_locks").SQLITE_TRIGGERS


@contextmanager
def lock_lifted(pgtrigger_uri: str, sqlite_trigger: str):
    """Writes inside the block skip the lock (the one named, nothing else)."""
    if connection.vendor == "postgresql":
        with pgtrigger.ignore(pgtrigger_uri):
            yield
        return
    statement = next(sql for sql in SQLITE_TRIGGERS if f"CREATE TRIGGER {sqlite_trigger} " in sql)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {sqlite_trigger}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(statement)


def verify(*args: str) -> str:
    out = StringIO()
    call_command("verify_signed_notes", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def signed_notes(patient, therapist, assistant, plan_of_care, visit):
    """Two signed notes (one an assistant's, co-signed), an addendum and a draft, which the check leaves out."""
    plan_of_care()
    first = services.sign_note(note=services.start_note(appointment=visit(days_ago=3), author=therapist),
                               signer=therapist, password=PASSWORD)
    second = services.sign_note(note=services.start_note(appointment=visit(days_ago=2), author=assistant),
                                signer=assistant, password=PASSWORD)
    second = services.cosign_note(note=second, therapist=therapist, password=PASSWORD)
    addendum = services.add_addendum(note=first, author=therapist, reason="Late entry", text="Ice applied 10 min.",
                                     password=PASSWORD)
    services.start_note(appointment=visit(days_ago=1), author=therapist)
    return first, second, addendum


def test_an_untampered_database_passes(signed_notes):
    assert verify() == "checked 2 notes and 1 addenda: all match\n"


def test_an_empty_database_passes(db):
    assert verify() == "checked 0 notes and 0 addenda: all match\n"


def test_a_tampered_note_fails_the_check_and_is_named(signed_notes, patient):
    _, second, _ = signed_notes
    with pytest.raises(DatabaseError), transaction.atomic():  # the lock holds without the bypass
        VisitNote.objects.filter(pk=second.pk).update(assessment="Goals met.")
    with lock_lifted("visits.VisitNote:protect_signed_note", "visits_note_protect_signed"):
        assert VisitNote.objects.filter(pk=second.pk).update(assessment="Goals met.") == 1

    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_signed_notes", stdout=out)

    assert str(failed.value) == "checked 2 notes and 1 addenda: 1 mismatch"
    assert failed.value.returncode == 1  # manage.py prints the one line and exits 1
    assert out.getvalue() == f"MISMATCH visit note #{second.pk}: content does not match its signed hash\n"
    assert patient.last_name not in out.getvalue() + str(failed.value)


def test_a_tampered_addendum_fails_the_check_and_is_named(signed_notes):
    first, _, addendum = signed_notes
    with lock_lifted("visits.Addendum:addendum_never_changes", "visits_addendum_no_update"):
        assert Addendum.objects.filter(pk=addendum.pk).update(text="Ice applied 20 min.") == 1

    out = StringIO()
    with pytest.raises(CommandError, match="checked 2 notes and 1 addenda: 1 mismatch"):
        call_command("verify_signed_notes", stdout=out)
    assert out.getvalue() == (f"MISMATCH addendum #{addendum.pk} (note #{first.pk}): "
                              f"content does not match its signed hash\n")


def test_a_signed_note_turned_back_into_a_draft_is_still_checked(signed_notes):
    first, *_ = signed_notes
    with lock_lifted("visits.VisitNote:protect_signed_note", "visits_note_protect_signed"):
        VisitNote.objects.filter(pk=first.pk).update(status="draft", signed_at=None, signed_by=None)

    with pytest.raises(CommandError, match="checked 2 notes and 1 addenda: 1 mismatch"):
        verify()


def test_every_mismatch_is_listed_before_the_run_fails(signed_notes):
    first, second, addendum = signed_notes
    with lock_lifted("visits.VisitNote:protect_signed_note", "visits_note_protect_signed"):
        VisitNote.objects.filter(pk__in=[first.pk, second.pk]).update(subjective="Rewritten.")
    with lock_lifted("visits.Addendum:addendum_never_changes", "visits_addendum_no_update"):
        Addendum.objects.filter(pk=addendum.pk).update(reason="Typo")

    out = StringIO()
    with pytest.raises(CommandError, match="3 mismatches"):
        call_command("verify_signed_notes", "--chunk-size", "1", stdout=out)
    assert [line.split(":")[0] for line in out.getvalue().splitlines()] == [
        f"MISMATCH visit note #{first.pk}", f"MISMATCH visit note #{second.pk}",
        f"MISMATCH addendum #{addendum.pk} (note #{first.pk})"]


@pytest.mark.parametrize("notes", [1, 3])
def test_the_check_reads_in_a_fixed_number_of_queries(patient, therapist, plan_of_care, visit, notes,
                                                      django_assert_num_queries):
    plan_of_care()
    for day in range(notes):
        note = services.sign_note(note=services.start_note(appointment=visit(days_ago=day + 1), author=therapist),
                                  signer=therapist, password=PASSWORD)
        services.add_addendum(note=note, author=therapist, reason="Late entry", text="x", password=PASSWORD)
    # 1: the signed notes, 2: the addenda with their notes' hashes; each streamed in chunks of one row
    with django_assert_num_queries(2):
        assert f"checked {notes} notes and {notes} addenda: all match" in verify("--chunk-size", "1")


@pytest.mark.postgres
def test_the_documented_bypass_lifts_only_the_named_trigger_and_only_inside_its_block(signed_notes):
    first, second, _ = signed_notes
    with pgtrigger.ignore("visits.VisitNote:protect_signed_note"):
        assert VisitNote.objects.filter(pk=first.pk).update(plan="Tampered.") == 1
        with pytest.raises(DatabaseError, match="Cannot delete rows"), transaction.atomic(), \
                connection.cursor() as cursor:  # keep_signed_note is not lifted
            cursor.execute("DELETE FROM visits_visitnote WHERE id = %s", [second.pk])
    with pytest.raises(DatabaseError, match="Cannot update rows"), transaction.atomic():
        VisitNote.objects.filter(pk=first.pk).update(plan="Tampered again.")
    with pytest.raises(CommandError, match="1 mismatch"):
        verify()


def test_the_weekly_task_logs_a_mismatch_as_an_error_with_ids_only(signed_notes, patient, caplog):
    from apps.visits.tasks import verify_signed_notes
    from hipclinic.celery import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["visits.verify_signed_notes"]["task"] == verify_signed_notes.name
    with caplog.at_level("INFO", logger="hipclinic.visits"):
        assert verify_signed_notes.delay().get() == "checked 2 notes and 1 addenda: all match"
    assert [r.levelname for r in caplog.records if r.name == "hipclinic.visits"] == ["INFO"]

    first, *_ = signed_notes
    with lock_lifted("visits.VisitNote:protect_signed_note", "visits_note_protect_signed"):
        VisitNote.objects.filter(pk=first.pk).update(objective="Tampered.")
    caplog.clear()
    with caplog.at_level("INFO", logger="hipclinic.visits"):
        verify_signed_notes.delay()
    [record] = [r for r in caplog.records if r.name == "hipclinic.visits"]
    assert record.levelname == "ERROR"
    assert f"visit note #{first.pk}" in record.getMessage() and "1 mismatch" in record.getMessage()
    assert patient.last_name not in record.getMessage() and "Tampered" not in record.getMessage()
