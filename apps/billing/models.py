"""Billing: the clinic's code table, payers and their fee schedules, charges from signed notes,
invoices and payments.

Money is ``Decimal`` with two places and a currency code, never a float. Charges are never
edited: a correction voids the note's charge and writes a new one (both kept).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from apps.ops.models import validate_currency
from apps.patients.models import Patient
from apps.visits.models import PlanOfCare, VisitNote

MONEY = {"max_digits": 10, "decimal_places": 2}


class BillingCode(models.Model):
    """A CPT/HCPCS procedure code the clinic bills; timed codes in 15-minute units, untimed one unit each."""

    code = models.CharField(max_length=8, unique=True)
    description = models.CharField(max_length=200)
    timed = models.BooleanField(help_text="Timed codes are billed in 15-minute units (the payer's units rule).")
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class UnitsRule(models.TextChoices):
    CMS_TOTAL_TIME = "cms_total_time", "CMS 8-minute rule (total timed minutes of the day)"
    AMA_PER_CODE = "ama_per_code", "AMA rule of eights (each code on its own)"


class PayerKind(models.TextChoices):
    SELF_PAY = "self_pay", "Self-pay"
    INSURER = "insurer", "Insurer"


class Payer(models.Model):
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=PayerKind.choices)
    units_rule = models.CharField(max_length=16, choices=UnitsRule.choices, default=UnitsRule.CMS_TOTAL_TIME)
    gp_modifier = models.BooleanField("add the GP modifier", default=False,
                                      help_text="Medicare and many payers want GP on every physical-therapy line.")
    currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    is_active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FeeScheduleEntry(models.Model):
    """A payer's price for a code from a date on; a later entry never rewrites a charge already made."""

    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="fees")
    code = models.ForeignKey(BillingCode, on_delete=models.PROTECT, related_name="fees")
    effective_from = models.DateField()
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))],
                                help_text="Per unit, in the payer's currency.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["payer", "code", "-effective_from"]
        verbose_name = "fee schedule price"
        constraints = [models.UniqueConstraint(fields=["payer", "code", "effective_from"],
                                               name="one_price_per_payer_code_and_date")]

    def __str__(self) -> str:
        return f"{self.payer} {self.code.code} from {self.effective_from:%Y-%m-%d}: {self.price}"


class Coverage(models.Model):
    """Who pays for an episode (a plan of care), and the patient's share when an insurer does."""

    plan = models.OneToOneField(PlanOfCare, on_delete=models.PROTECT, related_name="coverage")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    member_id = models.CharField("member id", max_length=40, blank=True)
    patient_share_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)],
        help_text="The patient's share of each charge when an insurer pays (co-insurance); self-pay is 100.")

    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.payer} for {self.plan}"


class ChargeStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    VOID = "void", "Void"


class Charge(models.Model):
    """What one signed note bills: one active charge per note (a correction voids it and adds the next)."""

    note = models.ForeignKey(VisitNote, on_delete=models.PROTECT, related_name="charges")
    revision = models.PositiveSmallIntegerField(default=1)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="charges")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="charges")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="charges")
    date_of_service = models.DateField()
    units_rule = models.CharField(max_length=16, choices=UnitsRule.choices)
    diagnoses = models.JSONField(default=list, help_text="The plan's ICD-10-CM codes, in order (pointers 1, 2...).")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    total = models.DecimalField(**MONEY)
    patient_share = models.DecimalField(**MONEY, default=Decimal("0"))
    status = models.CharField(max_length=6, choices=ChargeStatus.choices, default=ChargeStatus.ACTIVE)
    void_reason = models.CharField(max_length=200, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-date_of_service", "-id"]
        indexes = [models.Index(fields=["date_of_service", "id"], name="charge_date_id")]
        constraints = [
            models.UniqueConstraint(fields=["note", "revision"], name="one_charge_per_note_revision"),
            models.UniqueConstraint(fields=["note"], condition=models.Q(status="active"),
                                    name="one_active_charge_per_note"),
        ]

    def __str__(self) -> str:
        return f"Charge #{self.pk} ({self.date_of_service:%Y-%m-%d}, {self.total} {self.currency})"


class ChargeLine(models.Model):
    charge = models.ForeignKey(Charge, on_delete=models.PROTECT, related_name="lines")
    code = models.CharField(max_length=8)
    description = models.CharField(max_length=200)
    modifiers = models.CharField(max_length=20, blank=True)
    minutes = models.PositiveSmallIntegerField(default=0)
    units = models.PositiveSmallIntegerField()
    diagnosis_pointers = models.CharField(max_length=20, default="1", help_text="e.g. '1,2'")
    unit_price = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["charge", "id"]

    def __str__(self) -> str:
        return f"{self.code} x{self.units}"


class InvoiceCounter(models.Model):
    """The last invoice number of a year; locked while the next is taken, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class Invoice(models.Model):
    number = models.CharField(max_length=20, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    issued_on = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    currency = models.CharField(max_length=3, validators=[validate_currency])
    total = models.DecimalField(**MONEY)
    status = models.CharField(max_length=6, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_on", "-id"]

    def __str__(self) -> str:
        return f"Invoice {self.number}"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    charge = models.OneToOneField(Charge, on_delete=models.PROTECT, related_name="invoice_line",
                                  help_text="A visit's charge is invoiced once.")
    description = models.CharField(max_length=200)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["invoice", "id"]

    def __str__(self) -> str:
        return self.description


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    TRANSFER = "transfer", "Bank transfer"


class Payment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, validators=[validate_currency])
    method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    received_on = models.DateField()
    is_credit = models.BooleanField(default=False, help_text="More than the balance, kept as the patient's credit.")
    reference = models.CharField(max_length=100, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-received_on", "-id"]
        indexes = [models.Index(fields=["received_on", "id"], name="payment_date_id")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.received_on:%Y-%m-%d}"
