"""The curated ICD-10-CM list, and on SQLite the same locks PostgreSQL's triggers give.

PostgreSQL gets its triggers from django-pgtrigger (migration 0001). On SQLite, the
embedded default, these plain triggers refuse the same UPDATEs and DELETEs, so a signed
note is locked by the database there too (the services and the admin refuse it first).
"""

from django.db import migrations


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


def sqlite_locks(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in SQLITE_TRIGGERS:
        schema_editor.execute(statement)


def drop_sqlite_locks(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in ("visits_note_protect_signed", "visits_note_keep_signed", "visits_addendum_no_update",
                 "visits_addendum_no_delete"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def load_codes(apps, schema_editor):
    from apps.visits.reference import ensure_diagnosis_codes

    ensure_diagnosis_codes(apps.get_model("visits", "DiagnosisCode"))


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]

    operations = [
        migrations.RunPython(sqlite_locks, drop_sqlite_locks),
        migrations.RunPython(load_codes, migrations.RunPython.noop),
    ]
