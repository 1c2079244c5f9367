"""The superbill PDF carries what a claim needs; it is e-mailed once as a real PDF; each payment gets one receipt."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from time import perf_counter

import pytest
import time_machine
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from apps.billing import emails, selectors, services
from apps.billing.models import BillingCode, Charge, ChargeStatus, Coverage, FeeScheduleEntry, Payer
from apps.billing.superbill import superbill_pdf
from apps.notifications.models import OutboxEmail
from apps.notifications.services import build_message
from apps.ops.policy import forget_clinic_policy
from apps.visits import services as visit_services
from hipclinic.zones import clinic_today
from tests.conftest import PASSWORD
from tests.factories import UserFactory

# A Wednesday, 22:30 in London (GMT in December): inside the default quiet hours.
NIGHT = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace folded (WeasyPrint may break a line anywhere a browser would)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


@pytest.fixture
def insured(self_pay, clinic_policy, patient, therapist, rota, plan_of_care, visit):
    """Two visits of an insured patient (rule of eights, GP), the first billed to self-pay and then re-billed
    to the insurer (so a void charge exists); returns the active charges, oldest first."""
    clinic_policy(clinic_name="Riverside Hip Clinic", address="12 Mill Lane\nSpringfield", phone="+1 555 0100",
                  billing_npi="1234567893", tax_id="12-3456789", quiet_hours=False)
    rota.npi = "1987654321"
    rota.save()
    insurer = Payer.objects.create(name="Acme Health", kind="insurer", units_rule="ama_per_code", gp_modifier=True)
    for code in BillingCode.objects.filter(code__in=["97110", "97140", "97112"]):
        FeeScheduleEntry.objects.create(payer=insurer, code=code, effective_from=clinic_today() - timedelta(days=365),
                                        price=Decimal("55.50"))
    plan = plan_of_care(diagnoses=[("M16.11", "Primary osteoarthritis, right hip"),
                                   ("M62.81", "Muscle weakness (generalized)")])

    def bill(minutes, days_ago):
        note = visit_services.start_note(appointment=visit(days_ago=days_ago), author=therapist)
        visit_services.save_note(note=note, edited_by=therapist,
                                 treatment_minutes=[{"code": code, "minutes": m} for code, m in minutes])
        return visit_services.sign_note(note=note, signer=therapist, password=PASSWORD)

    first = bill([("97110", 33), ("97140", 7)], days_ago=3)  # billed to self-pay: no coverage yet
    Coverage.objects.create(plan=plan, payer=insurer, member_id="ACM-778812", patient_share_percent=20)
    services.rebill_note(note=first, reason="coverage recorded")
    bill([("97112", 24), ("97110", 23)], days_ago=1)
    return list(selectors.active_charges_between(patient=patient, start=clinic_today() - timedelta(days=7),
                                                 end=clinic_today()))


def test_the_superbill_carries_the_identifiers_diagnoses_lines_and_totals(insured, patient, report_figure):
    first, second = insured
    assert [(line.code, line.units, line.modifiers) for line in first.lines.all()] == [("97110", 2, "GP")]
    assert Charge.objects.filter(patient=patient, status=ChargeStatus.VOID).count() == 1

    started = perf_counter()
    data = superbill_pdf(patient=patient, charges=Charge.objects.filter(patient=patient))  # the void one too
    elapsed = perf_counter() - started

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in [
        "Riverside Hip Clinic", "12 Mill Lane", "+1 555 0100",
        "NPI (group) 1234567893", "Tax id (EIN) 12-3456789",
        f"Pat Example, record {patient.record_number}", "Acme Health, member id ACM-778812",
        "Theo Therapist, NPI 1987654321",
        "1. M16.11 Primary osteoarthritis, right hip", "2. M62.81 Muscle weakness (generalized)",
        # code, description, modifiers, minutes, units, pointers, unit price, amount
        "97110 Therapeutic exercise GP 33 2 1,2 55.50 111.00",
        "97112", "97110 Therapeutic exercise GP 23 2 1,2 55.50 111.00",  # the rule of eights: 23 minutes, 2 units
        f"Date of service {first.date_of_service.day} {first.date_of_service:%B %Y}",
        "Visit total (USD) 111.00", "Patient share (USD) 22.20",
        "USD 2 6 333.00 USD 66.60 USD",  # totals: visits, units, charges, patient share
    ]:
        assert expected in text, expected
    assert "97140" not in text  # only on the voided self-pay charge, which a superbill leaves out
    assert second.total == Decimal("222.00")
    report_figure(f"superbill PDF (2 visits): {elapsed * 1000:.0f} ms to render, {len(data) / 1024:.0f} KiB")


def test_a_superbill_lists_one_patients_billed_visits_only(insured, patient):
    desk = UserFactory(role="front_desk")
    stranger = Charge(patient_id=patient.pk + 1000, status=ChargeStatus.ACTIVE)
    with pytest.raises(ValidationError):
        superbill_pdf(patient=patient, charges=[*insured, stranger])
    with pytest.raises(ValidationError):
        superbill_pdf(patient=patient, charges=Charge.objects.filter(status=ChargeStatus.VOID))
    with pytest.raises(ValidationError):
        services.send_superbill(patient=patient, start=clinic_today() + timedelta(days=1),
                                end=clinic_today() + timedelta(days=2), sent_by=desk)
    assert not OutboxEmail.objects.exists()


def test_a_superbill_is_emailed_once_with_a_real_pdf_attached_and_no_codes_in_the_body(insured, patient):
    desk = UserFactory(role="front_desk")
    start, end = clinic_today() - timedelta(days=7), clinic_today()

    row = services.send_superbill(patient=patient, start=start, end=end, sent_by=desk)
    assert services.send_superbill(patient=patient, start=start, end=end, sent_by=desk) is None  # double click

    assert OutboxEmail.objects.filter(kind="superbill").count() == 1
    row.refresh_from_db()  # as the worker reads it: from the JSON column
    assert row.subject == "Your superbill" and "List-Unsubscribe" in row.headers
    assert "333.00 USD in charges, of which your share is 66.60 USD" in row.body_text
    for clinical in ["97110", "M16", "M62", "Therapeutic"]:
        assert clinical not in row.body_text and clinical not in row.body_html
    message = build_message(row).message()
    [part] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert part.get_filename() == f"superbill-{patient.record_number}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.pdf"
    content = part.get_payload(decode=True)
    assert content.startswith(b"%PDF-") and "ACM-778812" in pdf_text(content)


def test_a_rebilled_visit_makes_a_new_superbill(insured, patient, therapist):
    desk = UserFactory(role="front_desk")
    start, end = clinic_today() - timedelta(days=7), clinic_today()
    services.send_superbill(patient=patient, start=start, end=end, sent_by=desk)
    services.rebill_note(note=insured[1].note, reason="price corrected")
    assert services.send_superbill(patient=patient, start=start, end=end, sent_by=desk) is not None
    assert OutboxEmail.objects.filter(kind="superbill").count() == 2


def test_a_patient_without_email_consent_gets_no_superbill_and_no_receipt(insured, patient):
    desk = UserFactory(role="front_desk")
    patient.email_consent = False
    patient.save()
    with pytest.raises(ValidationError) as refused:
        services.send_superbill(patient=patient, start=clinic_today() - timedelta(days=7), end=clinic_today(),
                                sent_by=desk)
    assert "patient" in refused.value.message_dict
    invoice = services.create_invoice(patient=patient, charges=insured, created_by=desk)
    services.record_payment(patient=patient, amount=invoice.total, method="cash", recorded_by=desk, invoice=invoice)
    assert not OutboxEmail.objects.exists()


def test_each_payment_queues_one_receipt_with_amounts_and_dates_only(insured, patient):
    desk = UserFactory(role="front_desk")
    invoice = services.create_invoice(patient=patient, charges=insured, created_by=desk)
    assert invoice.total == Decimal("66.60")

    first = services.record_payment(patient=patient, amount=Decimal("50.00"), method="card", recorded_by=desk,
                                    invoice=invoice)
    second = services.record_payment(patient=patient, amount=Decimal("21.10"), method="cash", recorded_by=desk,
                                     invoice=invoice, as_credit=True)

    receipts = list(OutboxEmail.objects.filter(kind="payment-receipt").order_by("id"))
    assert [row.key for row in receipts] == [f"payment-receipt:{first.pk}", f"payment-receipt:{second.pk}"]
    assert emails.queue_receipt(first) is None  # once per payment, whoever calls again
    body = receipts[0].body_text
    assert "Amount: 50.00 USD" in body and "Paid by: Card" in body and f"Invoice: {invoice.number}" in body
    assert "Still to pay: 16.60 USD." in body
    assert "Your account is in credit: 4.50 USD." in receipts[1].body_text
    assert receipts[0].subject == "Your payment receipt"
    for clinical in ["97110", "M16", "Therapeutic"]:
        assert clinical not in body and clinical not in receipts[0].body_html


def test_at_night_superbills_and_receipts_wait_for_the_end_of_the_patients_quiet_hours(insured, patient,
                                                                                      clinic_policy):
    clinic_policy(quiet_hours=True)
    desk = UserFactory(role="front_desk")
    with time_machine.travel(NIGHT, tick=False):
        row = services.send_superbill(patient=patient, start=insured[0].date_of_service,
                                      end=insured[1].date_of_service, sent_by=desk)
        invoice = services.create_invoice(patient=patient, charges=insured, created_by=desk)
        services.record_payment(patient=patient, amount=invoice.total, method="transfer", recorded_by=desk)
    morning = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 08:00 in London the next morning
    assert row.send_after == morning
    assert OutboxEmail.objects.get(kind="payment-receipt").send_after == morning


def test_a_superbill_reads_in_the_same_number_of_queries_for_one_visit_or_several(insured, patient,
                                                                                 django_assert_num_queries):
    first, second = insured
    forget_clinic_policy()  # read once per request or task: counted here
    # charges (with payers, notes, visits, therapists), their lines, the authors' groups, the diagnoses'
    # history, the coverages, the clinic's policy (and one more, the co-signers' groups, if any note was co-signed)
    with django_assert_num_queries(6):
        superbill_pdf(patient=patient, charges=selectors.active_charge_of(first.note))
    forget_clinic_policy()
    with django_assert_num_queries(6):
        superbill_pdf(patient=patient, charges=selectors.active_charges_between(
            patient=patient, start=first.date_of_service, end=second.date_of_service))
