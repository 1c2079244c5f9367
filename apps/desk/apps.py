from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The front desk's pages under /desk/: no models of its own, no clinical content."""

    name = "apps.desk"
    label = "desk"
    verbose_name = "Front desk"
