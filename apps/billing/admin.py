"""Billing in the admin: managers keep the code table and the payers' fee schedules, the desk records
who pays for an episode, and everyone with a role in billing reads charges, invoices and payments.

Every write goes through apps/billing/services.py. Charges, invoices and payments are read-only
here: charges come from signed notes, invoices and payments from the desk's billing page. The front
desk sees amounts and codes, never a note's content or the plan's diagnoses; a therapist sees the
charges of their own notes only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from apps.accounts.roles import Role
from apps.billing import selectors, services
from apps.billing.models import (
    BillingCode,
    Charge,
    ChargeLine,
    Coverage,
    FeeScheduleEntry,
    Invoice,
    InvoiceLine,
    Payer,
    Payment,
)
from apps.visits.models import PlanOfCare
from hipclinic.admin_lists import LargeTablePaginator
from hipclinic.admin_writes import WrittenByService


class ReadOnlyAdmin(SimpleHistoryAdmin):
    """Rows written by a service elsewhere (a signature, the desk): read here, never added, changed or deleted."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------- codes and payers


@admin.register(BillingCode)
class BillingCodeAdmin(SimpleHistoryAdmin):
    list_display = ["code", "description", "timed", "is_active"]
    list_filter = ["timed", "is_active"]
    search_fields = ["code", "description"]

    def has_delete_permission(self, request, obj=None):
        return False  # charges name their codes: retire one by unticking "active"

    def get_readonly_fields(self, request, obj=None):
        return ["code"] if obj is not None else []  # charges name their code

    def save_model(self, request, obj, form, change):
        services.save_billing_code(billing_code=obj, changed_by=request.user)


class FeeFormSet(BaseInlineFormSet):
    def new_fees(self) -> list[dict]:
        """The prices added on this page (existing prices are never edited: a change is a new date)."""
        return [form.cleaned_data for form in self.extra_forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("code")]

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        for row in self.new_fees():
            if FeeScheduleEntry.objects.filter(payer=self.instance, code=row["code"],
                                               effective_from=row["effective_from"]).exists():
                raise ValidationError(f"There is a price for {row['code'].code} from "
                                      f"{row['effective_from']:%Y-%m-%d} already.")


class FeeScheduleInline(admin.TabularInline):
    """Dated prices: a new price is a new row from its date on (charges keep the price of their day)."""

    model = FeeScheduleEntry
    formset = FeeFormSet
    fields = ["code", "effective_from", "price"]
    extra = 1
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("code")


@admin.register(Payer)
class PayerAdmin(WrittenByService, SimpleHistoryAdmin):
    list_display = ["name", "kind", "units_rule", "gp_modifier", "currency", "is_active"]
    list_filter = ["kind", "units_rule", "is_active"]
    search_fields = ["name"]
    inlines = [FeeScheduleInline]

    def has_delete_permission(self, request, obj=None):
        return False  # charges and coverages name their payer: retire one by unticking "active"

    def write(self, request, form, formsets, change):
        payer = form.instance
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        for name in fields:  # the service compares the old values (a currency with prices is fixed)
            setattr(payer, name, form.initial.get(name, getattr(payer, name)))
        with transaction.atomic():
            services.save_payer(payer=payer, changed_by=request.user, **fields)
            for formset in formsets:
                if isinstance(formset, FeeFormSet):
                    for row in formset.new_fees():
                        services.add_fee(payer=payer, code=row["code"], effective_from=row["effective_from"],
                                         price=row["price"], currency=payer.currency, added_by=request.user)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:  # a rule only the service knows (a currency with prices): say it
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect(request.get_full_path())


class CoverageForm(forms.ModelForm):
    """The plan is named by its patient and start date only: no diagnoses, goals or treatment here."""

    class Meta:
        model = Coverage
        fields = ["plan", "payer", "member_id", "patient_share_percent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "plan" in self.fields:
            self.fields["plan"].queryset = PlanOfCare.objects.select_related("patient").order_by(
                "patient__last_name", "-started_on")
            self.fields["plan"].label = "Episode (plan of care)"


@admin.register(Coverage)
class CoverageAdmin(SimpleHistoryAdmin):
    form = CoverageForm
    list_display = ["patient", "plan_started", "payer", "member_id", "patient_share_percent"]
    list_filter = ["payer"]
    list_select_related = ["plan__patient", "payer"]
    search_fields = ["plan__patient__record_number", "plan__patient__last_name", "member_id"]

    def get_readonly_fields(self, request, obj=None):
        return ["plan"] if obj is not None else []  # an episode's coverage changes payer, never episode

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.set_coverage(coverage=obj, by=request.user)

    @admin.display(description="patient", ordering="plan__patient__last_name")
    def patient(self, coverage):
        return coverage.plan.patient

    @admin.display(description="episode from", ordering="plan__started_on")
    def plan_started(self, coverage):
        return coverage.plan.started_on


# ---------------------------------------------------------------------------- charges


def sees_clinical(request) -> bool:
    """Diagnoses and the note behind a charge are clinical: not the front desk's."""
    return request.user.has_perm("visits.view_visitnote")


class ChargeLineInline(ReadOnlyInline):
    model = ChargeLine

    def get_fields(self, request, obj=None):
        fields = ["code", "description", "modifiers", "minutes", "units", "unit_price", "amount"]
        return [*fields[:5], "diagnosis_pointers", *fields[5:]] if sees_clinical(request) else fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = ["date_of_service", "patient", "therapist", "payer", "codes", "total", "patient_share",
                    "currency", "status", "invoiced"]
    list_filter = ["status", "payer"]
    list_select_related = ["patient", "therapist", "payer", "invoice_line__invoice"]
    search_fields = ["patient__record_number", "patient__last_name"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    inlines = [ChargeLineInline]

    def get_queryset(self, request):
        charges = selectors.charges().select_related("invoice_line__invoice")
        if not request.user.has_role(Role.CLINIC_MANAGER, Role.FRONT_DESK) and not request.user.is_superuser:
            charges = charges.filter(therapist=request.user)  # a therapist sees the charges of their own notes
        return charges

    def get_fields(self, request, obj=None):
        fields = ["patient", "therapist", "payer", "date_of_service", "units_rule", "currency", "total",
                  "patient_share", "status", "void_reason", "voided_at", "revision", "invoiced", "created_at"]
        return [*fields, "note_link", "diagnoses"] if sees_clinical(request) else fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="codes")
    def codes(self, charge):
        return ", ".join(f"{line.code} x{line.units}" for line in charge.lines.all()) or "-"

    @admin.display(description="invoice")
    def invoiced(self, charge):
        line = getattr(charge, "invoice_line", None)
        return line.invoice.number if line is not None else "-"

    @admin.display(description="visit note")
    def note_link(self, charge):
        return format_html('<a href="{}">{}</a>', reverse("admin:visits_visitnote_change", args=[charge.note_id]),
                           charge.note)


# ---------------------------------------------------------------------------- invoices and payments


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["description", "amount"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["received_on", "amount", "currency", "method", "is_credit", "reference"]
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    """Made on the desk's billing page (services.create_invoice), which numbers them without gaps."""

    list_display = ["number", "patient", "issued_on", "period_start", "period_end", "total", "currency", "status"]
    list_filter = ["status"]
    list_select_related = ["patient"]
    search_fields = ["number", "patient__record_number", "patient__last_name"]
    show_full_result_count = False
    fields = ["number", "patient", "issued_on", "period_start", "period_end", "total", "currency", "status",
              "created_by", "created_at"]
    readonly_fields = fields
    inlines = [InvoiceLineInline, PaymentInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Recorded on the desk's billing page (services.record_payment)."""

    list_display = ["received_on", "patient", "amount", "currency", "method", "invoice", "is_credit", "recorded_by"]
    list_filter = ["method", "is_credit"]
    list_select_related = ["patient", "invoice", "recorded_by"]
    search_fields = ["patient__record_number", "patient__last_name", "reference"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    fields = ["patient", "received_on", "amount", "currency", "method", "invoice", "is_credit", "reference",
              "recorded_by", "recorded_at"]
    readonly_fields = fields
