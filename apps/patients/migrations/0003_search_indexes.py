"""Indexes for the patient search and the red-flag alert, on PostgreSQL.

The search (``patients.models.search_filter``) asks ``UPPER(last_name) LIKE 'ASH%'``,
the same of ``first_name``, and ``UPPER(record_number) = 'HC000123'``; each is answered from
its own expression index here (``text_pattern_ops``, so a prefix ``LIKE`` can use it whatever
the database's collation). The red-flag alert (``open_red_flag``), asked for every patient
the desk lists, reads a partial index of the open screens only. Without them, the load test
at 100,000 patients spent 250-400 ms of database time on one search page (a scan of every
patient and every referral); with them, 2-30 ms.

Expression and partial indexes with operator classes are PostgreSQL's; on SQLite this
migration does nothing (as 0002 of scheduling does for its exclusion constraints), so the
indexes are not in the models' Meta either.
"""

from django.db import migrations

INDEXES = {
    "patient_last_name_search": "patients_patient (UPPER(last_name) text_pattern_ops)",
    "patient_first_name_search": "patients_patient (UPPER(first_name) text_pattern_ops)",
    "patient_record_number_search": "patients_patient (UPPER(record_number))",
    "referral_open_red_flag": "patients_referral (patient_id) WHERE red_flag_decision = '' AND red_flags <> '[]'::jsonb",
}


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_date_of_birth_not_future")]

    operations = [migrations.RunPython(add_indexes, drop_indexes)]
