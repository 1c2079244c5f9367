"""The three kinds of appointment with their default lengths (editable in the admin)."""

from django.db import migrations

KINDS = [
    ("initial_assessment", "Initial assessment", 60),
    ("follow_up", "Follow-up", 30),
    ("reassessment", "Re-assessment", 45),
]


def create_kinds(apps, schema_editor):
    AppointmentKind = apps.get_model("scheduling", "AppointmentKind")
    for slug, name, minutes in KINDS:
        AppointmentKind.objects.get_or_create(slug=slug, defaults={"name": name, "duration_minutes": minutes})


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0002_no_overlap_constraints")]

    operations = [migrations.RunPython(create_kinds, migrations.RunPython.noop)]
