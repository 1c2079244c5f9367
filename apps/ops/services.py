"""Writes of the clinic's own settings."""

from __future__ import annotations

from django.db import transaction

from apps.accounts.models import User
from apps.ops.models import ClinicPolicy
from apps.ops.policy import forget_clinic_policy


def update_clinic_policy(*, policy: ClinicPolicy, changed_by: User | None, reason: str = "") -> ClinicPolicy:
    """Save the clinic's policy after checking every value; the change is kept in its history."""
    policy.pk = ClinicPolicy.SINGLETON_ID
    policy.full_clean()
    policy._history_user = changed_by
    if reason:
        policy._change_reason = reason[:100]
    with transaction.atomic():
        policy.save()
        transaction.on_commit(forget_clinic_policy)
    forget_clinic_policy()
    return policy
