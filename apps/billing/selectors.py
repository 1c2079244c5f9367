"""Reads of billing: the code table for notes, prices on a date, balances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from apps.billing.models import BillingCode, Charge, ChargeStatus, FeeScheduleEntry, Invoice, InvoiceStatus, Payment
from apps.patients.models import Patient
from apps.visits.codes import Procedure

ZERO = Decimal("0.00")


def procedures() -> dict[str, Procedure]:
    """The clinic's active codes, as the visits app checks a note's minutes against them."""
    return {row.code: Procedure(row.code, row.description, row.timed)
            for row in BillingCode.objects.filter(is_active=True)}


def prices_on(payer_id: int, codes: list[str], day: date) -> dict[str, Decimal]:
    """{code: price per unit} in the payer's schedule on ``day`` (the latest entry from on or before it); one query."""
    prices: dict[str, Decimal] = {}
    for code, price in (FeeScheduleEntry.objects.filter(payer_id=payer_id, code__code__in=codes,
                                                        effective_from__lte=day)
                        .order_by("code__code", "-effective_from").values_list("code__code", "price")):
        prices.setdefault(code, price)
    return prices


def charges() -> QuerySet:
    return Charge.objects.select_related("patient", "payer", "therapist", "note").prefetch_related("lines")


def _sum(queryset, field: str) -> Decimal:
    return queryset.aggregate(total=Coalesce(Sum(field), Value(ZERO), output_field=DecimalField()))["total"]


def balance(patient: Patient) -> Decimal:
    """What the patient owes: their invoices (not void) less their payments; negative is credit."""
    invoiced = _sum(Invoice.objects.filter(patient=patient).exclude(status=InvoiceStatus.VOID), "total")
    paid = _sum(Payment.objects.filter(patient=patient), "amount")
    return invoiced - paid


def uninvoiced_charges(patient: Patient) -> QuerySet:
    """Active charges with a patient share, not on an invoice yet (what the desk can invoice)."""
    return (Charge.objects.filter(patient=patient, status=ChargeStatus.ACTIVE, invoice_line__isnull=True,
                                  patient_share__gt=0).order_by("date_of_service", "id"))


def patient_charges(patient: Patient) -> QuerySet:
    """The patient's charges (void ones too, marked), with lines and invoice: three queries whatever their number."""
    return (Charge.objects.filter(patient=patient).select_related("payer", "invoice_line__invoice")
            .prefetch_related("lines").order_by("-date_of_service", "-id"))


def patient_invoices(patient: Patient) -> QuerySet:
    return Invoice.objects.filter(patient=patient).order_by("-issued_on", "-id")


def patient_payments(patient: Patient) -> QuerySet:
    return Payment.objects.filter(patient=patient).select_related("invoice").order_by("-received_on", "-id")


def open_invoices() -> QuerySet:
    return Invoice.objects.filter(status=InvoiceStatus.OPEN).select_related("patient").order_by("issued_on", "id")



def _superbill_shape(queryset: QuerySet) -> QuerySet:
    # What the superbill reads of each charge, in a fixed number of queries whatever the visits.
    return (queryset.select_related("payer", "note__appointment__therapist", "therapist__therapist",
                                    "note__cosigned_by__therapist")
            .prefetch_related("lines", "therapist__groups", "note__cosigned_by__groups")
            .order_by("date_of_service", "id"))


def active_charges_between(*, patient: Patient, start: date, end: date) -> QuerySet:
    """The patient's active charges with a date of service in [start, end], oldest first (a period's superbill)."""
    return _superbill_shape(Charge.objects.filter(patient=patient, status=ChargeStatus.ACTIVE,
                                                  date_of_service__gte=start, date_of_service__lte=end))


def active_charge_of(note) -> QuerySet:
    """The note's active charge (none or one), shaped like ``active_charges_between`` (a visit's superbill)."""
    return _superbill_shape(Charge.objects.filter(note=note, status=ChargeStatus.ACTIVE))
