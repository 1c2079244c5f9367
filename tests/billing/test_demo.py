"""The demo clinic bills: prices for Self-pay and an insurer, and the demo plan covered."""

import pytest
from django.core.management import call_command

from apps.billing.models import Coverage, FeeScheduleEntry, Payer


@pytest.mark.django_db
def test_seed_demo_prices_the_codes_and_covers_the_demo_plan_once(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")

    assert set(Payer.objects.values_list("name", flat=True)) == {"Self-pay", "Riverside Mutual"}
    assert FeeScheduleEntry.objects.count() == 20  # ten codes, two payers, once
    coverage = Coverage.objects.select_related("payer").get()
    assert (coverage.payer.name, coverage.patient_share_percent) == ("Riverside Mutual", 20)
