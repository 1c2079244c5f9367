"""The billing part of the demo clinic (registered with ``seed_demo``; idempotent): prices for
Self-pay, an insurer with the GP modifier covering the demo plan, and the identifiers a
superbill prints."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from apps.accounts.models import User
from apps.billing import services
from apps.billing.models import BillingCode, Coverage, FeeScheduleEntry, Payer, PayerKind
from apps.ops.policy import clinic_policy
from apps.ops.services import update_clinic_policy
from apps.scheduling.models import Therapist
from apps.visits.models import PlanOfCare

PRICES = {True: Decimal("45.00"), False: Decimal("130.00")}  # per timed unit, per untimed code
INSURER_PRICES = {True: Decimal("32.50"), False: Decimal("101.20")}


@transaction.atomic
def seed(*, password: str) -> None:
    policy = clinic_policy()
    if not policy.billing_npi:
        policy.billing_npi, policy.tax_id = "1234567893", "12-3456789"
        update_clinic_policy(policy=policy, changed_by=None, reason="demo clinic: billing identifiers")
    Therapist.objects.filter(user__username="therapist", npi="").update(npi="1245319599")
    manager = User.objects.get(username="manager")
    self_pay = Payer.objects.get(kind=PayerKind.SELF_PAY)
    insurer = Payer.objects.filter(name="Riverside Mutual").first() or services.save_payer(
        changed_by=manager, name="Riverside Mutual", kind=PayerKind.INSURER, units_rule="cms_total_time",
        gp_modifier=True, currency=self_pay.currency)
    codes = list(BillingCode.objects.all())
    for payer, prices in ((self_pay, PRICES), (insurer, INSURER_PRICES)):
        priced = set(FeeScheduleEntry.objects.filter(payer=payer).values_list("code_id", flat=True))
        for code in codes:
            if code.pk not in priced:
                services.add_fee(payer=payer, code=code, effective_from=date(2026, 1, 1), price=prices[code.timed],
                                 currency=payer.currency, added_by=manager)
    plan = PlanOfCare.objects.filter(patient__email__startswith="olive.ashworth@").first()
    if plan is not None and not Coverage.objects.filter(plan=plan).exists():
        services.set_coverage(coverage=Coverage(plan=plan, payer=insurer, member_id="RM-204-5567",
                                                patient_share_percent=20), by=manager)
