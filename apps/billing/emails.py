"""The patient's billing e-mails: a superbill (PDF attached) and a receipt for each payment.

Both go through the outbox in the caller's transaction, to patients who consented only
(the outbox's rule for every patient e-mail; a patient without consent gets paper at the
desk), and are held during quiet hours in the patient's zone: neither is urgent, unlike a
booking confirmation. Subjects and bodies carry amounts and dates, never codes or
diagnoses; the superbill PDF does, since it is what the patient sends to their insurer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils import timezone

from apps.billing import selectors
from apps.billing.models import Charge, Payment
from apps.billing.superbill import superbill_filename, superbill_pdf
from apps.notifications.models import OutboxEmail
from apps.notifications.services import queue_email, send_time
from apps.patients.models import Patient
from hipclinic.zones import long_date

KIND_SUPERBILL = "superbill"
KIND_RECEIPT = "payment-receipt"
SUPERBILL_SUBJECT = "Your superbill"  # lock screens show subjects: no name, nothing clinical
RECEIPT_SUBJECT = "Your payment receipt"


def superbill_key(patient: Patient, start: date, end: date, charges: Sequence[Charge]) -> str:
    """Same patient, period and charges: the same key, so a second click queues nothing; a re-billed visit
    (a new charge) makes a new superbill."""
    digest = hashlib.sha256(",".join(str(charge.pk) for charge in charges).encode()).hexdigest()[:16]
    return f"{KIND_SUPERBILL}:{patient.pk}:{start:%Y-%m-%d}:{end:%Y-%m-%d}:{digest}"


def queue_superbill(*, patient: Patient, start: date, end: date, charges: Sequence[Charge]) -> OutboxEmail | None:
    """Queue the superbill of these charges with its PDF; None if this very superbill was queued already."""
    key = superbill_key(patient, start, end, charges)
    if OutboxEmail.objects.filter(key=key).exists():
        return None  # checked before rendering: a double click costs no second PDF
    pdf = superbill_pdf(patient=patient, charges=charges)
    period = long_date(start) if start == end else f"{long_date(start)} to {long_date(end)}"
    return queue_email(
        key=key,
        kind=KIND_SUPERBILL,
        to_email=patient.email,
        subject=SUPERBILL_SUBJECT,
        text_template="emails/superbill.txt",
        html_template="emails/superbill.html",
        context={"first_name": patient.first_name, "period": period, "visits": len(charges),
                 "total": _sums(charges, "total"), "patient_share": _sums(charges, "patient_share")},
        patient=patient,
        attachments=[{"filename": superbill_filename(patient, start, end), "content_type": "application/pdf",
                      "content": pdf}],
        send_after=send_time(timezone.now(), patient.zone),
    )


def receipt_key(payment: Payment) -> str:
    return f"{KIND_RECEIPT}:{payment.pk}"


def queue_receipt(payment: Payment) -> OutboxEmail | None:
    """Queue the receipt of one payment (once: keyed by the payment); None if the patient takes no e-mail."""
    patient = payment.patient
    if not patient.can_receive_email:
        return None
    balance = selectors.balance(patient)
    return queue_email(
        key=receipt_key(payment),
        kind=KIND_RECEIPT,
        to_email=patient.email,
        subject=RECEIPT_SUBJECT,
        text_template="emails/payment_receipt.txt",
        html_template="emails/payment_receipt.html",
        context={"first_name": patient.first_name, "amount": _money(payment.amount, payment.currency),
                 "received_on": long_date(payment.received_on), "method": payment.get_method_display(),
                 "reference": payment.reference, "is_credit": payment.is_credit,
                 "invoice_number": payment.invoice.number if payment.invoice_id else "",
                 "owed": _money(balance, payment.currency) if balance > 0 else "",
                 "credit": _money(-balance, payment.currency) if balance < 0 else "",
                 "receipt_number": f"P{payment.pk:06d}"},
        patient=patient,
        send_after=send_time(timezone.now(), patient.zone),
    )


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:.2f} {currency}"


def _sums(charges: Sequence[Charge], field: str) -> str:
    """'120.00 USD', or one sum per currency ('120.00 USD + 40.00 EUR') when a period has several."""
    sums: dict[str, Decimal] = {}
    for charge in charges:
        sums[charge.currency] = sums.get(charge.currency, Decimal("0")) + getattr(charge, field)
    return " + ".join(_money(amount, currency) for currency, amount in sums.items())
