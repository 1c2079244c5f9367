"""Fixtures for billing: a signed note with minutes per code, payers with prices."""

from datetime import date
from decimal import Decimal

import pytest

from apps.billing.models import BillingCode, FeeScheduleEntry, Payer
from tests.conftest import PASSWORD
from tests.visits.conftest import plan_of_care, rota, visit  # noqa: F401  (the visits fixtures, here too)


@pytest.fixture
def self_pay(db):
    """The Self-pay payer the migration makes, with a price for every code from 2020."""
    payer = Payer.objects.get(kind="self_pay")
    for code in BillingCode.objects.all():
        FeeScheduleEntry.objects.create(payer=payer, code=code, effective_from=date(2020, 1, 1),
                                        price=Decimal("40.00") if code.timed else Decimal("120.00"))
    return payer


@pytest.fixture
def signed_note(therapist, plan_of_care, visit):  # noqa: F811
    """``signed_note([("97112", 24), ("97110", 23)])``: a plan, a visit yesterday, its note signed."""
    from apps.visits import services

    def make(minutes, **plan_fields):
        plan = plan_of_care(**plan_fields)
        note = services.start_note(appointment=visit(), author=therapist)
        services.save_note(note=note, edited_by=therapist,
                           treatment_minutes=[{"code": code, "minutes": m} for code, m in minutes])
        note = services.sign_note(note=note, signer=therapist, password=PASSWORD)
        note.plan_of_care = plan
        return note

    return make
