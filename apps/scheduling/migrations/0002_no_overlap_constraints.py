"""No two active appointments overlap for one therapist, nor for one patient.

On PostgreSQL this is the database's last word: exclusion constraints (btree_gist) over
half-open time ranges, so back-to-back appointments are fine. A manager's deliberate
overlap (non-empty overlap_reason) and cancelled or no-show appointments are outside
them. SQLite has no exclusion constraints (Django's ExclusionConstraint breaks migrate
there), so this migration does nothing on SQLite and the booking service's check,
which runs on every database, is what refuses overlaps there.
"""

from django.db import migrations

ACTIVE = "status IN ('booked', 'checked_in', 'completed') AND overlap_reason = ''"
CONSTRAINTS = {
    "appointment_therapist_no_overlap": "therapist_id",
    "appointment_patient_no_overlap": "patient_id",
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} "
            f"EXCLUDE USING gist ({column} WITH =, tstzrange(start, \"end\", '[)') WITH &&) WHERE ({ACTIVE})"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(add_constraints, drop_constraints)]
