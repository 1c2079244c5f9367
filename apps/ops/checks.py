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


# Clinic choices that used to be environment variables; they now live in the clinic's
# policy (admin: Operations -> Clinic policy), which migration ops.0003 seeded from them.
RETIRED_VARIABLES = {
    "FOLLOWUP_WEEKS": "follow-up weeks",
    "FOLLOWUP_FLAG_AFTER_DAYS": "when an unbooked follow-up is flagged",
    "PROGRESSION_AUTO_APPLY": "whether progression proposals apply by themselves",
    "MISSED_SESSION_DAYS": "days before a missed-session nudge",
    "FRONT_DESK_EMAIL": "the front desk's address",
    "KNEE_HOLD_PASS_SECONDS": "the knee-to-chest hold that passes",
    "LSI_DEFICIT_BELOW_PERCENT": "the limb symmetry index deficit",
    "INTAKE_LINK_DAYS": "how long intake links work",
    "SLOT_STEP_MINUTES": "the slot grid",
}


@checks.register()
def retired_variables(app_configs, **kwargs):
    import os

    return [
        checks.Warning(
            f"{name} is set in the environment, but {what} is now part of the clinic's policy; the variable is "
            "ignored.",
            hint="Change it in the admin under Operations -> Clinic policy, then remove the variable.",
            id="hipclinic.W002",
        )
        for name, what in RETIRED_VARIABLES.items()
        if os.environ.get(name)
    ]
