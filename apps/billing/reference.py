"""Rows billing needs from the start: the reference's procedure codes and a Self-pay payer (idempotent)."""

from __future__ import annotations

from apps.visits.codes import PROCEDURES

SELF_PAY = "Self-pay"


def ensure_billing_codes(model=None) -> None:
    if model is None:
        from apps.billing.models import BillingCode as model
    have = set(model.objects.values_list("code", flat=True))
    model.objects.bulk_create([model(code=p.code, description=p.label, timed=p.timed)
                               for p in PROCEDURES.values() if p.code not in have])


def ensure_self_pay(model=None) -> None:
    if model is None:
        from apps.billing.models import Payer as model
    if not model.objects.filter(kind="self_pay").exists():
        model.objects.create(name=SELF_PAY, kind="self_pay", units_rule="cms_total_time")
