"""Deployment checks of our own, reported by ``manage.py check --deploy``."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def shared_cache(app_configs, **kwargs):
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        return [checks.Warning(
            "CACHE_URL is not set: each gunicorn worker counts the API token rate limit on its own.",
            hint="Set CACHE_URL=redis://host:port/db (the Redis of the broker will do, on another database number).",
            id="hipclinic.W001",
        )]
    return []
