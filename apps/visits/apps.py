from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_reference_rows(sender, using="default", **kwargs):
    from django.db import connections

    from apps.visits.reference import ensure_diagnosis_codes
    from apps.visits.sqlite_locks import install_sqlite_locks

    ensure_diagnosis_codes()
    install_sqlite_locks(connections[using])  # SQLite: after a flush (tests) the locks come back


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
