"""The three kinds of appointment with their default lengths (editable in the admin)."""

from django.db import migrations

from apps.scheduling.apps import ensure_default_kinds


def create_kinds(apps, schema_editor):
    ensure_default_kinds(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_no_overlap_constraints")]

    operations = [migrations.RunPython(create_kinds, migrations.RunPython.noop)]
