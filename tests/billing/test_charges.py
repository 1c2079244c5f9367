"""Signing a note bills it once; a correction voids and re-bills; invoices are numbered without gaps."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from apps.billing import selectors, services
from apps.billing.models import Charge, ChargeStatus, Coverage, Payer
from apps.visits import services as visit_services
from tests.conftest import PASSWORD
from tests.factories import UserFactory


def lines(charge):
    return [(line.code, line.units, line.modifiers) for line in charge.lines.order_by("code")]


def test_signing_a_note_bills_it_once_by_the_8_minute_rule(self_pay, signed_note):
    note = signed_note([("97112", 24), ("97110", 23)])

    charge = Charge.objects.get(note=note)
    assert lines(charge) == [("97110", 1, ""), ("97112", 2, "")]
    assert charge.total == Decimal("120.00") and charge.patient_share == Decimal("120.00")
    assert charge.diagnoses == ["M62.81"]
    assert services.bill_note(note=note) == charge  # a second call bills nothing more
    assert Charge.objects.count() == 1


def test_an_insurer_with_the_rule_of_eights_and_gp_adds_the_modifier_and_bills_per_code(self_pay, signed_note):
    insurer = Payer.objects.create(name="Acme Health", kind="insurer", units_rule="ama_per_code", gp_modifier=True)
    note = signed_note([("97110", 33), ("97140", 7)])
    # The coverage is recorded after the visit: re-billing voids the self-pay charge and bills the insurer.
    Coverage.objects.create(plan_id=note.plan_of_care_id, payer=insurer, patient_share_percent=20)

    charge = services.rebill_note(note=note, reason="coverage recorded")

    assert lines(charge) == [("97110", 2, "GP")]  # 7 minutes of 97140 alone make no unit per code
    assert charge.revision == 2 and charge.patient_share == Decimal("0.00")  # no prices in Acme's schedule
    assert Charge.objects.get(note=note, revision=1).status == ChargeStatus.VOID


def test_an_addendum_that_corrects_minutes_voids_the_charge_and_adds_the_next(self_pay, signed_note, therapist):
    note = signed_note([("97110", 33), ("97140", 7)])
    first = Charge.objects.get(note=note)
    assert lines(first) == [("97110", 2, ""), ("97140", 1, "")]

    visit_services.add_addendum(note=note, author=therapist, reason="Manual therapy was not done", text="Only "
                                "exercise.", password=PASSWORD, treatment_minutes=[{"code": "97110", "minutes": 33}])

    first.refresh_from_db()
    second = Charge.objects.get(note=note, status=ChargeStatus.ACTIVE)
    assert first.status == ChargeStatus.VOID and first.lines.count() == 2  # kept, never edited
    assert lines(second) == [("97110", 2, "")] and second.revision == 2


def test_invoices_are_numbered_without_gaps_and_a_visit_is_invoiced_once(self_pay, signed_note, patient, therapist):
    desk = UserFactory(role="front_desk")
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    invoice = services.create_invoice(patient=patient, charges=[charge], created_by=desk)
    assert invoice.number.endswith("-000001") and invoice.total == Decimal("80.00")
    with pytest.raises(ValidationError) as refused:
        services.create_invoice(patient=patient, charges=[charge], created_by=desk)
    assert "already invoiced" in str(refused.value.message_dict["charges"])
    assert selectors.balance(patient) == Decimal("80.00")


def test_a_payment_above_the_balance_is_refused_unless_kept_as_credit(self_pay, signed_note, patient):
    desk = UserFactory(role="front_desk")
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    invoice = services.create_invoice(patient=patient, charges=[charge], created_by=desk)

    with pytest.raises(ValidationError) as refused:
        services.record_payment(patient=patient, amount=Decimal("100.00"), method="card", recorded_by=desk)
    assert "amount" in refused.value.message_dict
    services.record_payment(patient=patient, amount=Decimal("80.00"), method="cash", recorded_by=desk,
                            invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == "paid" and selectors.balance(patient) == Decimal("0.00")
    services.record_payment(patient=patient, amount=Decimal("5.00"), method="cash", recorded_by=desk,
                            as_credit=True)
    assert selectors.balance(patient) == Decimal("-5.00")


def test_nothing_is_charged_for_a_draft(self_pay, plan_of_care, visit, therapist):
    plan_of_care()
    note = visit_services.start_note(appointment=visit(), author=therapist)
    with pytest.raises(ValidationError):
        services.bill_note(note=note)
    assert not Charge.objects.exists()


@pytest.mark.parametrize("codes", [1, 6])
def test_billing_a_note_takes_the_same_few_queries_whatever_the_number_of_codes(self_pay, plan_of_care, visit,
                                                                                therapist, codes,
                                                                                django_assert_num_queries):
    plan_of_care()
    minutes = [{"code": code, "minutes": 10} for code in ["97110", "97112", "97116", "97140", "97530", "97535"]]
    note = visit_services.start_note(appointment=visit(), author=therapist)
    visit_services.save_note(note=note, edited_by=therapist, treatment_minutes=minutes[:codes])
    note.signed_at, note.signed_by = note.created_at, therapist  # signed (the service's write is tested above)
    from apps.ops.policy import clinic_policy

    clinic_policy()
    # active charge?, revision count, savepoint, coverage, self-pay payer, addenda (corrected minutes?), codes,
    # prices, diagnoses, the charge and its history row, its lines (one INSERT), release
    with django_assert_num_queries(13):
        charge = services.bill_note(note=note)
    # 10 minutes each: one code makes 1 unit; six make 60 minutes, 4 units, to four of the codes (the rest 0).
    assert charge.lines.count() == {1: 1, 6: 4}[codes]
