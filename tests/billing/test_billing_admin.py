"""Billing in the admin: writes through the services, history kept, each role seeing its part."""

from datetime import date
from decimal import Decimal

import pytest

from apps.billing.models import BillingCode, Charge, Coverage, FeeScheduleEntry, Payer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_manager_adds_a_payer_with_dated_prices_and_a_new_price_leaves_old_charges_alone(
        client, manager, self_pay, signed_note):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    code = BillingCode.objects.get(code="97110")
    client.force_login(manager)
    data = {"name": "Acme Health", "kind": "insurer", "units_rule": "ama_per_code", "gp_modifier": "on",
            "currency": "USD", "is_active": "on",
            "fees-TOTAL_FORMS": 1, "fees-INITIAL_FORMS": 0, "fees-MIN_NUM_FORMS": 0, "fees-MAX_NUM_FORMS": 1000,
            "fees-0-code": code.pk, "fees-0-effective_from": "2020-01-01", "fees-0-price": "55.00"}

    response = client.post("/admin/billing/payer/add/", data)
    self_pay_change = {"name": "Self-pay", "kind": "self_pay", "units_rule": "cms_total_time", "currency": "USD",
                       "is_active": "on", "fees-TOTAL_FORMS": 1, "fees-INITIAL_FORMS": 0,
                       "fees-MIN_NUM_FORMS": 0, "fees-MAX_NUM_FORMS": 1000, "fees-0-code": code.pk,
                       "fees-0-effective_from": "2031-01-01", "fees-0-price": "99.00"}
    client.post(f"/admin/billing/payer/{self_pay.pk}/change/", self_pay_change)

    acme = Payer.objects.get(name="Acme Health")
    assert response.status_code == 302 and acme.gp_modifier and acme.history.first().history_user == manager
    assert FeeScheduleEntry.objects.get(payer=acme).price == Decimal("55.00")
    assert FeeScheduleEntry.objects.filter(payer=self_pay, code=code, effective_from=date(2031, 1, 1)).exists()
    charge.refresh_from_db()
    assert charge.total == Decimal("80.00")  # the charge keeps the price of its day


def test_a_code_is_never_deleted_and_its_changes_are_kept(client, manager):
    code = BillingCode.objects.get(code="97110")
    client.force_login(manager)

    client.post(f"/admin/billing/billingcode/{code.pk}/change/",
                {"code": "97110", "description": "Therapeutic exercise", "timed": "on"})

    code.refresh_from_db()
    assert not code.is_active and code.history.first().history_user == manager
    assert client.get(f"/admin/billing/billingcode/{code.pk}/delete/").status_code == 403


def test_the_desk_records_who_pays_for_an_episode_without_seeing_its_diagnoses(client, frontdesk, plan_of_care):
    plan = plan_of_care(diagnoses=[("M16.11", "")])
    insurer = Payer.objects.create(name="Acme Health", kind="insurer")
    client.force_login(frontdesk)

    form = client.get("/admin/billing/coverage/add/").content.decode()
    client.post("/admin/billing/coverage/add/", {"plan": plan.pk, "payer": insurer.pk, "member_id": "A-123",
                                                 "patient_share_percent": 20})

    assert "M16.11" not in form and str(plan) in form
    coverage = Coverage.objects.get(plan=plan)
    assert (coverage.payer, coverage.patient_share_percent) == (insurer, 20)
    assert coverage.history.first().history_user == frontdesk


def test_a_therapist_sees_the_charges_of_their_own_notes_only(client, therapist, self_pay, signed_note):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    colleague = UserFactory(role="therapist")

    client.force_login(therapist)
    own = client.get("/admin/billing/charge/").content.decode()
    client.force_login(colleague)
    other = client.get("/admin/billing/charge/").content.decode()
    opened = client.get(f"/admin/billing/charge/{charge.pk}/change/")

    assert "97110 x2" in own and "97110 x2" not in other and opened.status_code == 302


def test_the_desk_reads_a_charges_amounts_and_codes_but_not_its_diagnoses_or_note(
        client, frontdesk, manager, self_pay, signed_note):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))

    client.force_login(frontdesk)
    desk = client.get(f"/admin/billing/charge/{charge.pk}/change/").content.decode()
    client.force_login(manager)
    managers = client.get(f"/admin/billing/charge/{charge.pk}/change/").content.decode()

    assert "97110" in desk and "80.00" in desk and "M62.81" not in desk and "/admin/visits/visitnote/" not in desk
    assert "M62.81" in managers and "/admin/visits/visitnote/" in managers


def test_charges_invoices_and_payments_are_never_written_in_the_admin(client, manager, self_pay, signed_note):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    client.force_login(manager)

    client.post(f"/admin/billing/charge/{charge.pk}/change/", {"total": "1.00"})

    charge.refresh_from_db()
    assert charge.total == Decimal("80.00")
    assert client.get("/admin/billing/invoice/add/").status_code == 403
    assert client.get("/admin/billing/payment/add/").status_code == 403
