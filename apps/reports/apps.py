from django.apps import AppConfig


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.reports"
    verbose_name = "Reports"

    def ready(self):
        from apps.notifications.reminders import register_scan
        from apps.reports.reminders import KIND_MANAGER_DIGEST, queue_manager_digests

        # Beat runs it every five minutes; it queues each manager's digest once an ISO week, from Monday.
        register_scan(KIND_MANAGER_DIGEST, queue_manager_digests)
