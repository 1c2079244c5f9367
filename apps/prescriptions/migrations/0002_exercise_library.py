"""Load the exercise ladder of clinical-reference.md section 4 (apps/prescriptions/library.py)."""

from django.db import migrations

from apps.prescriptions.apps import ensure_exercise_library


def load(apps, schema_editor):
    ensure_exercise_library(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("prescriptions", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
