"""Writes of billing: one service per action (admin, API, desk pages and signal receivers call them)."""

from __future__ import annotations

import logging
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.billing import emails, selectors, signals, units
from apps.billing.models import (
    BillingCode,
    Charge,
    ChargeLine,
    ChargeStatus,
    Coverage,
    FeeScheduleEntry,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    Payer,
    PayerKind,
    Payment,
)
from apps.notifications.models import OutboxEmail
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from apps.visits.models import VisitNote
from apps.visits.services import current_minutes
from hipclinic.zones import clinic_zone, local_date

log = logging.getLogger("hipclinic.billing")

CENT = Decimal("0.01")
MAX_POINTERS = 4  # a claim line points at up to four diagnoses


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------- charges


def payer_for(note: VisitNote) -> tuple[Payer, int]:
    """The episode's payer and the patient's share (percent); self-pay when no coverage is recorded."""
    coverage = Coverage.objects.filter(plan_id=note.plan_of_care_id).select_related("payer").first()
    if coverage is None:
        return Payer.objects.filter(kind=PayerKind.SELF_PAY, is_active=True).order_by("pk").first(), 100
    share = 100 if coverage.payer.kind == PayerKind.SELF_PAY else coverage.patient_share_percent
    return coverage.payer, share


def bill_note(*, note: VisitNote) -> Charge:
    """The charge of a signed note, made once (a second call returns the first); nothing for a draft."""
    if note.signed_at is None:
        raise ValidationError("Nothing is charged before the note is signed.")
    existing = Charge.objects.filter(note=note, status=ChargeStatus.ACTIVE).first()
    if existing is not None:
        return existing
    revision = (Charge.objects.filter(note=note).count()) + 1
    try:
        with transaction.atomic():
            return _write_charge(note, revision)
    except IntegrityError:  # another process billed it at the same moment: theirs stands
        return Charge.objects.get(note=note, status=ChargeStatus.ACTIVE)


def rebill_note(*, note: VisitNote, reason: str) -> Charge:
    """Void the note's active charge and write the next from its corrected minutes (never edits a line)."""
    with transaction.atomic():
        active = Charge.objects.select_for_update().filter(note=note, status=ChargeStatus.ACTIVE).first()
        revision = 1
        if active is not None:
            active.status, active.voided_at, active.void_reason = ChargeStatus.VOID, timezone.now(), reason[:200]
            active.save(update_fields=["status", "voided_at", "void_reason"])
            revision = active.revision + 1
        return _write_charge(note, revision)


def _write_charge(note: VisitNote, revision: int) -> Charge:
    payer, share = payer_for(note)
    day = local_date(clinic_zone(), note.appointment.start)
    minutes = current_minutes(note)
    table = {row.code: row for row in BillingCode.objects.filter(code__in=[r["code"] for r in minutes])}
    lines = [units.Line(code=row["code"], minutes=row["minutes"],
                        timed=table[row["code"]].timed if row["code"] in table else True) for row in minutes]
    counted = units.units_for_day(lines, payer.units_rule) if lines else []
    prices = selectors.prices_on(payer.pk, [line.code for line in lines], day)
    diagnoses = list(note.plan_of_care.diagnoses.order_by("position", "id").values_list("code", flat=True))
    pointers = ",".join(str(n) for n in range(1, min(len(diagnoses), MAX_POINTERS) + 1)) or "1"
    charge = Charge(note=note, revision=revision, patient_id=note.patient_id, therapist_id=note.author_id,
                    payer=payer, date_of_service=day, units_rule=payer.units_rule, diagnoses=diagnoses,
                    currency=payer.currency, total=Decimal("0.00"))
    rows = []
    for result in counted:
        if result.units == 0:
            continue
        price = prices.get(result.code, Decimal("0.00"))
        code = table.get(result.code)
        rows.append(ChargeLine(code=result.code, description=code.description if code else result.code,
                               modifiers="GP" if payer.gp_modifier else "", minutes=result.minutes,
                               units=result.units, diagnosis_pointers=pointers, unit_price=price,
                               amount=_money(price * result.units)))
    charge.total = sum((row.amount for row in rows), Decimal("0.00"))
    charge.patient_share = _money(charge.total * share / 100)
    charge.save()
    for row in rows:
        row.charge = charge
    ChargeLine.objects.bulk_create(rows)
    return charge


# ---------------------------------------------------------------------------- invoices


def next_invoice_number(year: int) -> str:
    """The next number of the year, taken under a row lock inside the caller's transaction: no gaps, no repeats."""
    InvoiceCounter.objects.get_or_create(year=year)
    counter = InvoiceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year}-{counter.last:06d}"


def create_invoice(*, patient: Patient, charges, created_by: User, issued_on: date | None = None) -> Invoice:
    """Invoice the patient's share of the given charges (each at most once); numbered in the same transaction."""
    charges = list(Charge.objects.filter(pk__in=[charge.pk for charge in charges]).prefetch_related("lines")
                   .order_by("date_of_service", "id"))
    if not charges:
        raise ValidationError({"charges": "Choose at least one visit to invoice."})
    invoiced = set(InvoiceLine.objects.filter(charge__in=charges).values_list("charge_id", flat=True))
    problems = []
    for charge in charges:
        if charge.patient_id != patient.pk:
            problems.append(f"Charge #{charge.pk} is another patient's.")
        elif charge.status != ChargeStatus.ACTIVE:
            problems.append(f"Charge #{charge.pk} was voided.")
        elif charge.pk in invoiced:
            problems.append(f"The visit of {charge.date_of_service:%d %b %Y} is already invoiced.")
    currencies = {charge.currency for charge in charges}
    if len(currencies) > 1:
        problems.append("These charges are in different currencies: invoice them separately.")
    if problems:
        raise ValidationError({"charges": problems})
    issued_on = issued_on or local_date(clinic_zone())
    try:
        with transaction.atomic():
            invoice = Invoice(number=next_invoice_number(issued_on.year), patient=patient, issued_on=issued_on,
                              period_start=min(c.date_of_service for c in charges),
                              period_end=max(c.date_of_service for c in charges),
                              currency=currencies.pop(), total=sum((c.patient_share for c in charges), Decimal("0")),
                              created_by=created_by)
            invoice._history_user = created_by
            invoice.save()
            InvoiceLine.objects.bulk_create([
                InvoiceLine(invoice=invoice, charge=charge, amount=charge.patient_share,
                            description=f"Visit of {charge.date_of_service:%d %b %Y}: "
                                        + ", ".join(f"{line.code} x{line.units}" for line in charge.lines.all()))
                for charge in charges])
            signals.invoice_issued.send(sender=Invoice, invoice=invoice)
    except IntegrityError:
        raise ValidationError({"charges": "One of these visits was invoiced meanwhile."}) from None
    return invoice


# ---------------------------------------------------------------------------- payments


def record_payment(*, patient: Patient, amount: Decimal, method: str, recorded_by: User,
                   received_on: date | None = None, invoice: Invoice | None = None, as_credit: bool = False,
                   reference: str = "", currency: str | None = None) -> Payment:
    """Record money received (no card processing): more than the balance only when kept as credit."""
    clinic_currency = clinic_policy().currency
    if currency is not None and currency != clinic_currency:
        raise ValidationError({"currency": f"The clinic takes payments in {clinic_currency}."})
    currency = clinic_currency
    payment = Payment(patient=patient, invoice=invoice, amount=amount, currency=currency, method=method,
                      received_on=received_on or local_date(clinic_zone()), is_credit=as_credit,
                      reference=reference, recorded_by=recorded_by)
    payment.full_clean(exclude=["patient", "invoice", "recorded_by"])
    if invoice is not None and invoice.patient_id != patient.pk:
        raise ValidationError({"invoice": "This invoice is another patient's."})
    if invoice is not None and invoice.status == InvoiceStatus.VOID:
        raise ValidationError({"invoice": "This invoice was voided."})
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # one payment at a time per patient
        owed = selectors.balance(patient)
        if amount > owed and not as_credit:
            raise ValidationError({"amount": f"More than the balance ({owed} {currency}): record the rest as "
                                             f"credit, or take less."})
        payment._history_user = recorded_by
        payment.save()
        if invoice is not None:
            paid = sum(invoice.payments.values_list("amount", flat=True), Decimal("0"))
            if paid >= invoice.total and invoice.status == InvoiceStatus.OPEN:
                invoice.status = InvoiceStatus.PAID
                invoice._history_user = recorded_by
                invoice.save(update_fields=["status"])
        emails.queue_receipt(payment)  # in the same transaction: no payment without its receipt, nor the reverse
    return payment


# ---------------------------------------------------------------------------- the clinic's tables


def set_coverage(*, coverage: Coverage, by: User) -> Coverage:
    """Record who pays for an episode (its plan of care): the payer, member id and the patient's share.

    Charges already made keep their payer; a clinic that wants them under the new payer re-bills them.
    """
    if coverage.payer_id and coverage.payer.kind == PayerKind.SELF_PAY:
        coverage.patient_share_percent = 100
    coverage.full_clean()
    coverage._history_user = by
    coverage.save()
    return coverage


# ---------------------------------------------------------------------------- the code table, payers, prices


def save_billing_code(*, changed_by: User, billing_code: BillingCode | None = None, **fields) -> BillingCode:
    """Add a code to the clinic's table or change one (its code never changes: charges name it)."""
    billing_code = billing_code or BillingCode()
    for name, value in fields.items():
        setattr(billing_code, name, value)
    billing_code.full_clean()
    billing_code._history_user = changed_by
    billing_code.save()
    return billing_code


def save_payer(*, changed_by: User, payer: Payer | None = None, **fields) -> Payer:
    """Add a payer or change one; its currency is fixed once it has prices or charges."""
    if payer is not None and fields.get("currency", payer.currency) != payer.currency and (
            payer.fees.exists() or payer.charges.exists()):
        raise ValidationError({"currency": "This payer has prices or charges in "
                                           f"{payer.currency}: add a new payer for another currency."})
    payer = payer or Payer()
    for name, value in fields.items():
        setattr(payer, name, value)
    payer.full_clean()
    payer._history_user = changed_by
    payer.save()
    return payer


def add_fee(*, payer: Payer, code: BillingCode, effective_from: date, price: Decimal, currency: str,
            added_by: User) -> FeeScheduleEntry:
    """A payer's price for a code from a date on, in the payer's currency (never edited: a change is a new date)."""
    if currency != payer.currency:
        raise ValidationError({"currency": f"{payer} is billed in {payer.currency}: give the price in it."})
    entry = FeeScheduleEntry(payer=payer, code=code, effective_from=effective_from, price=price)
    entry.full_clean(validate_unique=False, validate_constraints=False)
    if FeeScheduleEntry.objects.filter(payer=payer, code=code, effective_from=effective_from).exists():
        raise ValidationError({"effective_from": f"{payer} already has a price for {code.code} from that date."})
    entry._history_user = added_by
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise ValidationError({"effective_from": f"{payer} already has a price for {code.code} from that date."}) \
            from None
    return entry


# ---------------------------------------------------------------------------- superbills


def send_superbill(*, patient: Patient, start: date, end: date, sent_by: User) -> OutboxEmail | None:
    """E-mail the patient the superbill of their billed visits in [start, end]; None if the same one was queued."""
    if end < start:
        raise ValidationError({"end": "The period ends before it starts."})
    if not patient.can_receive_email:
        raise ValidationError({"patient": "This patient has no e-mail address or has not agreed to e-mail: "
                                          "print the superbill instead."})
    charges = list(selectors.active_charges_between(patient=patient, start=start, end=end))
    if not charges:
        raise ValidationError({"start": "No billed visit in this period."})
    # No transaction of its own: the PDF (most of a second) renders outside any lock; the outbox row is one INSERT.
    row = emails.queue_superbill(patient=patient, start=start, end=end, charges=charges)
    log.info("superbill %s patient=%s visits=%d by=%s", "queued" if row else "already queued", patient.pk,
             len(charges), sent_by.pk)
    return row
