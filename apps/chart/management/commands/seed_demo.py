"""Create (or refresh) the demo clinic: one user per role, and each feature's demo data."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.roles import Role

DEMO_USERS = [
    ("frontdesk", "Fran", "Desk", Role.FRONT_DESK),
    ("therapist", "Theo", "Therapist", Role.THERAPIST),
    ("assistant", "Alex", "Assistant", Role.ASSISTANT),
    ("manager", "Morgan", "Manager", Role.CLINIC_MANAGER),
]


def demo_seeders():
    """Each feature's demo data, in dependency order (later issues append theirs); today's list last."""
    from apps.assessments.demo import seed as assessments
    from apps.chart.demo import seed as today
    from apps.prescriptions.demo import seed as prescriptions
    from apps.scheduling.demo import seed as scheduling
    from apps.visits.demo import seed as visits
    from hipclinic.demo import EXTRA_SEEDERS

    # Then the apps beside chart (billing: prices, an insurer and the demo plan's coverage).
    return [scheduling, assessments, prescriptions, visits, today, *EXTRA_SEEDERS]


class Command(BaseCommand):
    help = "Create the demo clinic (idempotent): users frontdesk, therapist, assistant and manager, and demo data."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="hipclinic-demo", help="password for the demo users")
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="run even though DEBUG is off (demo users on a real clinic's server are a risk)",
        )

    def handle(self, *args, password: str, allow_production: bool, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError("refusing to create demo users with DEBUG off; pass --allow-production to insist")
        if len(password) < 8:
            raise CommandError("--password must be at least 8 characters")
        with transaction.atomic():
            for username, first, last, role in DEMO_USERS:
                user, _ = User.objects.update_or_create(
                    username=username,
                    defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.hipclinic.invalid"},
                )
                user.set_password(password)
                user.save(update_fields=["password"])
                services.set_role(user=user, role=role)
        for seed in demo_seeders():
            seed(password=password)
        self.stdout.write(f"demo clinic ready: users {', '.join(u for u, *_ in DEMO_USERS)}")
