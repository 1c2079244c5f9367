"""The desk's billing pages: a patient's charges, invoices, payments and balance; invoicing and payments.

The front desk and managers use them. They show amounts and codes, never a note's content or the
plan's diagnoses. GET never changes anything; every change is a POST to a service, whose
``ValidationError`` is shown next to the field it names.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.access import role_required
from apps.accounts.roles import Role
from apps.billing import forms, selectors, services, superbill
from apps.billing.services import CENT
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from hipclinic.errors import place_errors

BILLING_ROLES = (Role.FRONT_DESK, Role.CLINIC_MANAGER)


@role_required(*BILLING_ROLES)
@require_GET
def home(request):
    """Open invoices, oldest first: what the desk chases."""
    return render(request, "billing/home.html", {"invoices": selectors.open_invoices()})


def _patient_page(request, patient: Patient, *, invoice_form=None, payment_form=None, superbill_form=None,
                  status: int = 200):
    balance = selectors.balance(patient).quantize(CENT)  # an empty sum comes back as plain 0
    context = {
        "patient": patient,
        "balance": balance,
        "credit": -balance if balance < 0 else None,
        "currency": clinic_policy().currency,
        "charges": selectors.patient_charges(patient),
        "invoices": selectors.patient_invoices(patient),
        "payments": selectors.patient_payments(patient),
        "invoice_form": invoice_form or forms.InvoiceForm(patient=patient),
        "payment_form": payment_form or forms.PaymentForm(patient=patient),
        "superbill_form": superbill_form or forms.SuperbillForm(patient=patient),
    }
    return render(request, "billing/patient.html", context, status=status)


@role_required(*BILLING_ROLES)
@require_GET
def patient_billing(request, patient_id: int):
    return _patient_page(request, get_object_or_404(Patient, pk=patient_id))


@role_required(*BILLING_ROLES)
@require_POST
def patient_invoice(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = forms.InvoiceForm(request.POST, patient=patient)
    if form.is_valid():
        try:
            invoice = services.create_invoice(patient=patient, charges=form.cleaned_data["charges"],
                                              created_by=request.user)
        except ValidationError as error:
            place_errors(error, [form])
        else:
            messages.success(request, f"Invoice {invoice.number} for {invoice.total} {invoice.currency} is made.")
            return redirect("billing:patient", patient_id=patient.pk)
    return _patient_page(request, patient, invoice_form=form)


@role_required(*BILLING_ROLES)
@require_POST
def patient_payment(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    form = forms.PaymentForm(request.POST, patient=patient)
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.record_payment(
                patient=patient, amount=data["amount"], method=data["method"], received_on=data["received_on"],
                invoice=data["invoice"], as_credit=data["as_credit"], reference=data["reference"],
                recorded_by=request.user)
        except ValidationError as error:
            place_errors(error, [form], field_map={"is_credit": "as_credit"})
        else:
            messages.success(request, f"Recorded {payment.amount} {payment.currency} ({payment.get_method_display()}).")
            return redirect("billing:patient", patient_id=patient.pk)
    return _patient_page(request, patient, payment_form=form)


@role_required(*BILLING_ROLES)
@require_POST
def patient_superbill(request, patient_id: int):
    """The superbill of the patient's billed visits in a period: the PDF (to print or hand over), or e-mailed."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = forms.SuperbillForm(request.POST, patient=patient)
    if not form.is_valid():
        return _patient_page(request, patient, superbill_form=form, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    if "email" in request.POST:
        try:
            row = services.send_superbill(patient=patient, start=start, end=end, sent_by=request.user)
        except ValidationError as error:
            place_errors(error, [form], field_map={"patient": "start"})
            return _patient_page(request, patient, superbill_form=form, status=400)
        messages.success(request, "The superbill is on its way to the patient." if row else
                         "This superbill was already sent.")
        return redirect("billing:patient", patient_id=patient.pk)
    charges = list(selectors.active_charges_between(patient=patient, start=start, end=end))
    if not charges:
        form.add_error("start", "No billed visit in this period.")
        return _patient_page(request, patient, superbill_form=form, status=400)
    response = HttpResponse(superbill.superbill_pdf(patient=patient, charges=charges), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{superbill.superbill_filename(patient, start, end)}"'
    return response
