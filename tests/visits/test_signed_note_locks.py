"""The database's own refusal to change a signed note, with raw SQL that skips every service.

Each test runs twice: on the suite's database (PostgreSQL in CI, so django-pgtrigger's
triggers; SQLite on a laptop, so the triggers migration 0002 installed) and on a throwaway
SQLite database that has the note tables and migration 0002's SQLITE_TRIGGERS statements,
so CI, which runs on PostgreSQL, still proves the embedded default's triggers.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.db.utils import ConnectionHandler

from apps.visits import services
from apps.visits.models import Addendum, NoteStatus, VisitNote
from tests.conftest import PASSWORD

SQLITE_TRIGGERS = importlib.import_module("apps.visits.migrations.0002_curated_codes_and_sqlite_locks").SQLITE_TRIGGERS

# Trigger messages: pgtrigger's "Cannot update rows from ... table", SQLite's "... cannot be changed".
REFUSED = r"(?i)cannot (be )?(update|delete|changed|deleted)"
LATER = "2031-01-01T09:00:00+00:00"


@dataclass
class Notes:
    """Ids of a draft, a signed note, an assistant's note awaiting co-signature and an addendum, on one database."""

    db: BaseDatabaseWrapper
    draft: int
    signed: int
    awaiting: int
    addendum: int
    cosigner: int

    def execute(self, sql: str, params=()) -> int:
        """Run one statement and return the rows it changed; a trigger's refusal raises DatabaseError."""
        if self.db.in_atomic_block:  # the test's transaction: a savepoint keeps it usable after a refusal
            with transaction.atomic(using=self.db.alias), self.db.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount
        with self.db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def value(self, table: str, column: str, pk: int):
        with self.db.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 (test's own names)
            return cursor.fetchone()[0]


def notes_in_suite_database(therapist, assistant, plan_of_care, visit) -> Notes:
    plan_of_care()
    signed = services.sign_note(note=services.start_note(appointment=visit(days_ago=3), author=therapist),
                                signer=therapist, password=PASSWORD)
    draft = services.start_note(appointment=visit(days_ago=2), author=therapist)
    awaiting = services.sign_note(note=services.start_note(appointment=visit(days_ago=1), author=assistant),
                                  signer=assistant, password=PASSWORD)
    addendum = services.add_addendum(note=signed, author=therapist, reason="Late entry", text="Ice 10 min.",
                                     password=PASSWORD)
    assert awaiting.status == NoteStatus.AWAITING_COSIGNATURE
    return Notes(connection, draft.pk, signed.pk, awaiting.pk, addendum.pk, therapist.pk)


def notes_in_throwaway_sqlite() -> tuple[Notes, BaseDatabaseWrapper]:
    # A connection of its own, outside django.db.connections (ConnectionHandler fills in the defaults).
    settings = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}).settings
    db = SQLiteDatabaseWrapper(settings["default"], alias="sqlite_locks")
    with db.schema_editor(atomic=False) as editor:  # atomic=True would look the alias up in connections
        editor.create_model(VisitNote)
        editor.create_model(Addendum)
        for statement in SQLITE_TRIGGERS:
            editor.execute(statement)
    db.disable_constraint_checking()  # the rows point at patients and visits this database does not have
    columns = ("id, appointment_id, patient_id, plan_of_care_id, kind, author_id, subjective, objective, assessment,"
               " plan, goal_review, treatment_minutes, status, signed_by_id, signed_at, content_hash, created_at,"
               " updated_at")
    rows = [
        (1, 1, 1, 1, "daily", 1, "S", "O", "A", "P", "[]", "[]", "draft", None, None, "", LATER, LATER),
        (2, 2, 1, 1, "daily", 1, "S", "O", "A", "P", "[]", "[]", "signed", 1, LATER, "a" * 64, LATER, LATER),
        (3, 3, 1, 1, "daily", 2, "S", "O", "A", "P", "[]", "[]", "awaiting", 2, LATER, "b" * 64, LATER, LATER),
    ]
    with db.cursor() as cursor:
        cursor.executemany(f"INSERT INTO visits_visitnote ({columns}) VALUES ({', '.join(['%s'] * 18)})", rows)  # noqa: S608
        cursor.execute("INSERT INTO visits_addendum (id, note_id, author_id, reason, text, signed_at, content_hash)"
                       " VALUES (1, 2, 1, 'Late entry', 'Ice 10 min.', %s, %s)", [LATER, "c" * 64])
    return Notes(db, draft=1, signed=2, awaiting=3, addendum=1, cosigner=1), db


@pytest.fixture(params=["suite database", "throwaway sqlite"])
def notes(request, therapist, assistant, plan_of_care, visit):
    if request.param == "suite database":
        yield notes_in_suite_database(therapist, assistant, plan_of_care, visit)
        return
    rows, db = notes_in_throwaway_sqlite()
    assert db.vendor == "sqlite"
    yield rows
    db.close()


def test_a_raw_update_of_a_signed_notes_text_is_refused(notes):
    for column, value in [("subjective", "rewritten"), ("assessment", ""), ("content_hash", "0" * 64),
                          ("signed_at", LATER.replace("2031", "2032")), ("kind", "discharge")]:
        with pytest.raises(DatabaseError, match=REFUSED):
            notes.execute(f"UPDATE visits_visitnote SET {column} = %s WHERE id = %s", [value, notes.signed])  # noqa: S608
    with pytest.raises(DatabaseError, match=REFUSED):  # nor unsigned back into a draft
        notes.execute("UPDATE visits_visitnote SET status = 'draft' WHERE id = %s", [notes.signed])
    assert notes.value("visits_visitnote", "subjective", notes.signed) != "rewritten"


def test_a_raw_delete_of_a_signed_note_is_refused(notes):
    for pk in (notes.signed, notes.awaiting):
        with pytest.raises(DatabaseError, match=REFUSED):
            notes.execute("DELETE FROM visits_visitnote WHERE id = %s", [pk])
    assert notes.value("visits_visitnote", "COUNT(*)", notes.signed) == 1


def test_a_draft_can_still_be_changed_and_deleted(notes):
    assert notes.execute("UPDATE visits_visitnote SET subjective = %s WHERE id = %s", ["better", notes.draft]) == 1
    assert notes.value("visits_visitnote", "subjective", notes.draft) == "better"
    assert notes.execute("DELETE FROM visits_visitnote WHERE id = %s", [notes.draft]) == 1


def test_a_cosignature_is_given_once_and_then_locked(notes):
    cosign = "UPDATE visits_visitnote SET cosigned_by_id = %s, cosigned_at = %s, status = %s WHERE id = %s"
    assert notes.execute(cosign, [notes.cosigner, LATER, "signed", notes.awaiting]) == 1
    with pytest.raises(DatabaseError, match=REFUSED):
        notes.execute(cosign, [notes.cosigner, LATER.replace("2031", "2032"), "signed", notes.awaiting])
    with pytest.raises(DatabaseError, match=REFUSED):
        notes.execute("UPDATE visits_visitnote SET cosigned_by_id = NULL, cosigned_at = NULL WHERE id = %s",
                      [notes.awaiting])
    with pytest.raises(DatabaseError, match=REFUSED):  # the assistant's own signature stays locked meanwhile
        notes.execute("UPDATE visits_visitnote SET plan = 'other' WHERE id = %s", [notes.awaiting])


def test_an_addendum_is_never_changed_nor_deleted(notes):
    with pytest.raises(DatabaseError, match=REFUSED):
        notes.execute("UPDATE visits_addendum SET text = 'changed' WHERE id = %s", [notes.addendum])
    with pytest.raises(DatabaseError, match=REFUSED):
        notes.execute("DELETE FROM visits_addendum WHERE id = %s", [notes.addendum])
    assert notes.value("visits_addendum", "text", notes.addendum) == "Ice 10 min."


@pytest.mark.postgres
def test_on_postgresql_the_refusal_comes_from_the_pgtrigger_triggers(therapist, assistant, plan_of_care, visit):
    notes = notes_in_suite_database(therapist, assistant, plan_of_care, visit)
    with pytest.raises(DatabaseError, match="pgtrigger: Cannot update rows from visits_visitnote table"):
        notes.execute("UPDATE visits_visitnote SET subjective = 'rewritten' WHERE id = %s", [notes.signed])
    with pytest.raises(DatabaseError, match="pgtrigger: Cannot delete rows from visits_visitnote table"):
        notes.execute("DELETE FROM visits_visitnote WHERE id = %s", [notes.signed])
    with pytest.raises(DatabaseError, match="pgtrigger: Cannot update or delete rows from visits_addendum table"):
        notes.execute("UPDATE visits_addendum SET reason = 'x' WHERE id = %s", [notes.addendum])
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname LIKE 'pgtrigger_%%' ORDER BY tgname")
        names = [row[0] for row in cursor.fetchall()]
    assert [name.rsplit("_", 1)[0] for name in names if "note" in name or "addendum" in name] == [
        "pgtrigger_addendum_never_changes", "pgtrigger_keep_signed_note", "pgtrigger_protect_signed_note"]


def test_no_product_code_uses_the_bypass():
    """pgtrigger.ignore is for tests that tamper on purpose; the product never lifts the lock."""
    root = Path(__file__).resolve().parents[2]
    users = []
    for path in [*root.glob("apps/**/*.py"), *root.glob("hipclinic/**/*.py")]:
        source = path.read_text()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            called = (isinstance(node, ast.Attribute) and node.attr == "ignore"
                      and isinstance(node.value, ast.Name) and node.value.id == "pgtrigger")
            imported = (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pgtrigger")
                        and any(alias.name in ("ignore", "runtime") for alias in node.names))
            if called or imported:
                users.append(f"{path.relative_to(root)}:{node.lineno}")
        # the setting the bypass writes, in raw SQL
        users += [f"{path.relative_to(root)}:{number}" for number, line in enumerate(source.splitlines(), 1)
                  if "set_config" in line and "pgtrigger" in line]
    assert users == []
