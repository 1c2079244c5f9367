from django.apps import AppConfig
from django.db.models.signals import post_migrate

# The three kinds of appointment and their default lengths (editable in the admin;
# integrations refer to them by slug).
DEFAULT_KINDS = [
    ("initial_assessment", "Initial assessment", 60),
    ("follow_up", "Follow-up", 30),
    ("reassessment", "Re-assessment", 45),
]


def upcoming_appointments_veto(patient) -> str | None:
    """Archiving waits until the patient's upcoming appointments are cancelled."""
    from django.utils import timezone

    from apps.scheduling.models import Appointment

    upcoming = Appointment.objects.active().filter(patient=patient, start__gt=timezone.now()).count()
    if upcoming:
        return f"Cancel this patient's {upcoming} upcoming appointment(s) before archiving the record."
    return None


def ensure_default_kinds(sender=None, apps=None, **kwargs):
    """Create any missing default kind; never changes one a clinic has edited."""
    AppointmentKind = (apps or sender.apps).get_model("scheduling", "AppointmentKind")
    for slug, name, minutes in DEFAULT_KINDS:
        AppointmentKind.objects.get_or_create(slug=slug, defaults={"name": name, "duration_minutes": minutes})


class SchedulingConfig(AppConfig):
    name = "apps.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"

    def ready(self):
        from apps.notifications.reminders import register_scan
        from apps.patients.vetoes import register_archive_veto
        from apps.scheduling.emails import KIND_REMINDER, queue_appointment_reminders

        # Also after a test database flush, which empties what the data migration wrote.
        post_migrate.connect(ensure_default_kinds, sender=self, dispatch_uid="scheduling.default_kinds")
        register_archive_veto("scheduling.upcoming-appointments", upcoming_appointments_veto)
        register_scan(KIND_REMINDER, queue_appointment_reminders)
