"""On SQLite, the embedded default, plain triggers lock signed notes and addenda as PostgreSQL's do.

Installed by migration 0002 and put back after every ``migrate`` or ``flush`` (post_migrate)
if missing. They refuse what django-pgtrigger's triggers refuse on PostgreSQL: any change
to a signed note's content or signature, a second co-signature, deleting a signed note,
and any change to or deletion of an addendum.
"""

from __future__ import annotations

_LOCKED = ["kind", "patient_id", "appointment_id", "plan_of_care_id", "author_id", "subjective", "objective",
           "assessment", "plan", "goal_review", "treatment_minutes", "signed_by_id", "signed_at", "content_hash"]


def _changed(columns):
    return " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER visits_note_protect_signed BEFORE UPDATE ON visits_visitnote
        WHEN OLD.signed_at IS NOT NULL AND (({_changed(_LOCKED)})
              OR (NEW.status IS NOT OLD.status AND NOT (OLD.status = 'awaiting' AND NEW.status = 'signed')))
          OR OLD.cosigned_at IS NOT NULL AND ({_changed(["cosigned_by_id", "cosigned_at"])})
        BEGIN SELECT RAISE(ABORT, 'a signed visit note cannot be changed'); END""",
    """CREATE TRIGGER visits_note_keep_signed BEFORE DELETE ON visits_visitnote
        WHEN OLD.signed_at IS NOT NULL
        BEGIN SELECT RAISE(ABORT, 'a signed visit note cannot be deleted'); END""",
    """CREATE TRIGGER visits_addendum_no_update BEFORE UPDATE ON visits_addendum
        BEGIN SELECT RAISE(ABORT, 'an addendum cannot be changed'); END""",
    """CREATE TRIGGER visits_addendum_no_delete BEFORE DELETE ON visits_addendum
        BEGIN SELECT RAISE(ABORT, 'an addendum cannot be deleted'); END""",
]
TRIGGER_NAMES = [statement.split()[2] for statement in SQLITE_TRIGGERS]


def install_sqlite_locks(connection) -> None:
    """Create the triggers that are missing (SQLite only; nothing elsewhere)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
        for name, statement in zip(TRIGGER_NAMES, SQLITE_TRIGGERS, strict=True):
            if name not in present:
                cursor.execute(statement)


def remove_sqlite_locks(connection) -> None:
    """Drop them: the migration's reverse, and test teardown before a flush (SQLite flushes with DELETE)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for name in TRIGGER_NAMES:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
