"""Forms of the desk's billing page. They check shape; the services check meaning (and their refusals
are put back next to the field they name with ``hipclinic.errors.place_errors``)."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from django import forms

from apps.billing import selectors
from apps.billing.models import Charge, InvoiceStatus, PaymentMethod
from apps.patients.models import Patient
from hipclinic.zones import clinic_today


class FieldsOnly(FormHelper):
    """Fields only: the template writes the <form> tag and its button (two forms on one page)."""

    form_tag = False
    disable_csrf = True


class ChargeChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, charge: Charge) -> str:
        codes = ", ".join(f"{line.code} x{line.units}" for line in charge.lines.all())
        return f"{charge.date_of_service:%d %b %Y}: {codes}, {charge.patient_share} {charge.currency}"


class InvoiceForm(forms.Form):
    """Which uninvoiced visits go on one invoice (one visit, or every visit of a period)."""

    charges = ChargeChoiceField(queryset=Charge.objects.none(), widget=forms.CheckboxSelectMultiple,
                                label="Visits to invoice", error_messages={
                                    "required": "Choose at least one visit to invoice."})

    def __init__(self, *args, patient: Patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["charges"].queryset = selectors.uninvoiced_charges(patient).prefetch_related("lines")
        self.helper = FieldsOnly()


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0.01)
    method = forms.ChoiceField(choices=PaymentMethod.choices)
    received_on = forms.DateField(label="Received on",
                                  widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    invoice = forms.ModelChoiceField(queryset=None, required=False, empty_label="No invoice (on account)",
                                     label="For invoice")
    reference = forms.CharField(max_length=100, required=False,
                                help_text="A receipt or transfer reference, if any.")
    as_credit = forms.BooleanField(label="Keep what is above the balance as credit", required=False)

    def __init__(self, *args, patient: Patient, **kwargs):
        kwargs.setdefault("initial", {"received_on": clinic_today()})
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = patient.invoices.filter(status=InvoiceStatus.OPEN).order_by("issued_on")
        self.helper = FieldsOnly()


class SuperbillForm(forms.Form):
    """The period a superbill covers (both days included): the patient's first billed visit to today by default."""

    start = forms.DateField(label="From", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))

    def __init__(self, *args, patient: Patient, **kwargs):
        first = patient.charges.order_by("date_of_service").values_list("date_of_service", flat=True).first()
        kwargs.setdefault("initial", {"start": first or clinic_today(), "end": clinic_today()})
        super().__init__(*args, **kwargs)
        self.helper = FieldsOnly()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["end"] < cleaned["start"]:
            self.add_error("end", "The period ends before it starts.")
        return cleaned
