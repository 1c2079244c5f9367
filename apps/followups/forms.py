"""The patient's session log and next-morning forms (through their signed program link).

The forms check shape and plain bounds so errors show next to the fields; the meaning (the
day, the items on the program, one save per form) is ``services.log_session``'s to judge.
"""

from __future__ import annotations

import uuid
from datetime import date

from django import forms
from django.core.exceptions import ValidationError

from apps.followups.models import Effort, NextMorning, SessionLog, SessionLogItem
from apps.prescriptions.models import DoseType, ProgramItem

# The bounds of SessionLogItem's validators, so the form and the model agree.
MAX_SETS = 10
MAX_AMOUNT = 600
AMOUNT_LABELS = {
    DoseType.REPETITIONS: "Repetitions on the last set",
    DoseType.HOLD_SECONDS: "Seconds held on the last set",
    DoseType.STEPS: "Steps on the last set",
    DoseType.MINUTES: "Minutes on the last set",
}


def _number(label: str, maximum: int) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, required=False, min_value=0, max_value=maximum,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 0, "max": maximum, "class": "form-control"}),
        error_messages={"min_value": "Enter 0 or more.", "max_value": f"Enter {maximum} or less.",
                        "invalid": "Enter a whole number."},
    )


class SessionForm(forms.Form):
    session_date = forms.DateField(
        label="Day of the session",
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date", "class": "form-control"}),
        error_messages={"required": "Enter the day you did the exercises.", "invalid": "Enter a date."},
    )
    effort = forms.ChoiceField(label="How did it feel overall?", choices=Effort.choices, required=False,
                               widget=forms.RadioSelect)
    note = forms.CharField(label="Anything to tell your therapist? (optional)", required=False,
                           max_length=SessionLog._meta.get_field("note").max_length,
                           widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}))
    # One-time key made when the form is shown: the same form sent twice saves once.
    submission_key = forms.UUIDField(widget=forms.HiddenInput, error_messages=dict.fromkeys(
        ("required", "invalid"), "This form is out of date: reload the page and fill it in again."))

    def __init__(self, *args, first_day: date | None = None, last_day: date | None = None, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("submission_key", uuid.uuid4())
        super().__init__(*args, **kwargs)
        attrs = self.fields["session_date"].widget.attrs
        if first_day:
            attrs["min"] = first_day.isoformat()
        if last_day:
            attrs["max"] = last_day.isoformat()


class SessionItemForm(forms.Form):
    """One program item's results; left all blank, the exercise was not done this time."""

    item = forms.IntegerField(widget=forms.HiddenInput)
    sets_done = _number("Sets done", MAX_SETS)
    last_set_amount = _number(AMOUNT_LABELS[DoseType.REPETITIONS], MAX_AMOUNT)
    pain_during = _number("Pain during (0 = none, 10 = worst)", 10)

    def __init__(self, *args, program_item: ProgramItem | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.program_item = program_item
        if program_item is not None:
            self.fields["last_set_amount"].label = AMOUNT_LABELS.get(program_item.exercise.dose_type,
                                                                     "Amount on the last set")
            self.fields["sets_done"].widget.attrs["placeholder"] = str(program_item.sets)

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return all(data.get(name) is None for name in ("sets_done", "last_set_amount", "pain_during"))

    def clean(self):
        data = super().clean()
        if not self.is_blank and data.get("sets_done") is None and "sets_done" not in self.errors:
            self.add_error("sets_done", "Enter how many sets you did (0 if none).")
        return data


class BaseSessionItemFormSet(forms.BaseFormSet):
    def __init__(self, *args, program_items: list[ProgramItem], **kwargs):
        self.program_items = program_items
        kwargs.setdefault("initial", [{"item": item.pk} for item in program_items])
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        kwargs["program_item"] = self.program_items[index] if index is not None and index < len(
            self.program_items) else None
        return kwargs

    def clean(self):
        if any(self.errors):
            return
        seen = [form.cleaned_data.get("item") for form in self.forms if not form.is_blank]
        if len(seen) != len(set(seen)):
            raise ValidationError("Each exercise can be logged once per session.")

    def rows(self) -> list[dict]:
        """The answered items, as ``log_session`` takes them."""
        return [{key: form.cleaned_data[key] for key in ("item", "sets_done", "last_set_amount", "pain_during")}
                for form in self.forms if not form.is_blank]


def session_item_formset(program_items: list[ProgramItem], data=None):
    formset_class = forms.formset_factory(
        SessionItemForm, formset=BaseSessionItemFormSet, extra=0,
        max_num=len(program_items), validate_max=True, absolute_max=len(program_items),
    )
    return formset_class(data, prefix="items", program_items=program_items)


class NextMorningForm(forms.Form):
    """One answer per exercise of a session: better, the same or worse than before."""

    def __init__(self, *args, log_items: list[SessionLogItem], **kwargs):
        super().__init__(*args, **kwargs)
        self.log_items = log_items
        for row in log_items:
            self.fields[f"item_{row.pk}"] = forms.ChoiceField(
                label=row.exercise.name, choices=NextMorning.choices, required=False, widget=forms.RadioSelect,
                initial=row.next_morning or None,
            )

    def answers(self) -> list[tuple[SessionLogItem, str]]:
        return [(row, self.cleaned_data[f"item_{row.pk}"]) for row in self.log_items
                if self.cleaned_data.get(f"item_{row.pk}")]

    def clean(self):
        data = super().clean()
        if not self.errors and not self.answers():
            raise ValidationError("Choose an answer for at least one exercise.")
        return data

    def rows(self):
        return [(row, self[f"item_{row.pk}"]) for row in self.log_items]
