from django.contrib.admin.apps import AdminConfig


class HipclinicAdminConfig(AdminConfig):
    """Django's admin with hipclinic's site (loaded lazily, after the app registry)."""

    default_site = "hipclinic.admin_site.HipclinicAdminSite"
