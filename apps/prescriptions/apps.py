from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_exercise_library(sender=None, apps=None, **kwargs):
    """Add any exercise of the shipped library that is missing (by slug); never changes a
    clinic's edits and never brings back an exercise a clinic retired."""
    from apps.prescriptions.library import EXERCISES

    Exercise = (apps or sender.apps).get_model("prescriptions", "Exercise")
    known = set(Exercise.objects.values_list("slug", flat=True))
    Exercise.objects.bulk_create(
        Exercise(**entry) for entry in (dict(e) if isinstance(e, dict) else e.as_dict() for e in EXERCISES)
        if entry["slug"] not in known
    )


class PrescriptionsConfig(AppConfig):
    name = "apps.prescriptions"
    label = "prescriptions"
    verbose_name = "Exercises and home programs"

    def ready(self):
        # Also after a test database flush, which empties what the data migration wrote.
        post_migrate.connect(ensure_exercise_library, sender=self, dispatch_uid="prescriptions.library")
