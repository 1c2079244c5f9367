from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.calendars"
    verbose_name = "Calendar feeds"
