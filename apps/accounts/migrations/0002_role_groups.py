"""Create the three role groups. Their permissions are set from ROLE_PERMISSIONS after
every migrate (see AccountsConfig.ready), since later apps' permissions exist only then."""

from django.db import migrations

ROLE_GROUP_NAMES = ["Front desk", "Therapist", "Clinic manager"]


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUP_NAMES:
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
