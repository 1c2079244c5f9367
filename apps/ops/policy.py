"""The clinic's policy, read once per unit of work.

``clinic_policy()`` is the one way to read what a manager chose (quiet hours, follow-up
weeks, ...). The row is fetched at most once per request, Celery task or management
command, and forgotten when the next one starts or when the row is saved, so a change
in the admin holds everywhere from the next request or task on, without a shared cache
and without asking the database again for every e-mail of a reminder scan.
"""

from __future__ import annotations

import threading

from apps.ops.models import ClinicPolicy

_memo = threading.local()


def clinic_policy() -> ClinicPolicy:
    policy = getattr(_memo, "policy", None)
    if policy is None:
        policy, _created = ClinicPolicy.objects.get_or_create(pk=ClinicPolicy.SINGLETON_ID)
        _memo.policy = policy
    return policy


def forget_clinic_policy(**_kwargs) -> None:
    """Drop the remembered row: the next read asks the database (a new request, task or change)."""
    _memo.policy = None
