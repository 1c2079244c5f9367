"""The curated ICD-10-CM list, and on SQLite the same locks PostgreSQL's triggers give.

PostgreSQL gets its triggers from django-pgtrigger (migration 0001). On SQLite, the
embedded default, these plain triggers refuse the same UPDATEs and DELETEs, so a signed
note is locked by the database there too (the services and the admin refuse it first).
"""

from django.db import migrations


from apps.visits.sqlite_locks import SQLITE_TRIGGERS, install_sqlite_locks, remove_sqlite_locks  # noqa: F401


def sqlite_locks(apps, schema_editor):
    install_sqlite_locks(schema_editor.connection)


def drop_sqlite_locks(apps, schema_editor):
    remove_sqlite_locks(schema_editor.connection)


def load_codes(apps, schema_editor):
    from apps.visits.reference import ensure_diagnosis_codes

    ensure_diagnosis_codes(apps.get_model("visits", "DiagnosisCode"))


class Migration(migrations.Migration):
    dependencies = [("visits", "0001_initial")]

    operations = [
        migrations.RunPython(sqlite_locks, drop_sqlite_locks),
        migrations.RunPython(load_codes, migrations.RunPython.noop),
    ]
