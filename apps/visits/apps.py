from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_reference_rows(sender, **kwargs):
    from apps.visits.reference import ensure_diagnosis_codes

    ensure_diagnosis_codes()


class VisitsConfig(AppConfig):
    name = "apps.visits"
    label = "visits"
    verbose_name = "Visit notes and plans of care"

    def ready(self):
        # TransactionTestCase flushes rows written by data migrations: put the curated codes back.
        post_migrate.connect(_ensure_reference_rows, sender=self, dispatch_uid="visits.reference_rows")

        from apps.notifications.reminders import register_scan
        from apps.visits.reminders import KIND_THERAPIST_DIGEST, queue_therapist_digests

        # Beat runs it every five minutes; it queues each therapist's digest once a clinic day.
        register_scan(KIND_THERAPIST_DIGEST, queue_therapist_digests)
