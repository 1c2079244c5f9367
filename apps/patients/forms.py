"""Admin forms of referrals: the red-flag screen as grouped checkboxes, the decision beside it.

The forms check shape; the services check meaning (``add_referral``, ``update_referral``,
``record_red_flag_decision``). Which fields a role sees is decided by the ModelAdmins: the
screen only for ``patients.view_red_flag_screen``, the decision's inputs only for
``patients.decide_red_flag``.
"""

from __future__ import annotations

import copy

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import BaseInlineFormSet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.html import format_html

from apps.accounts.models import User
from apps.patients import services
from apps.patients.models import RED_FLAG_GROUPS, RedFlag, RedFlagDecision, Referral

SCREEN_ORDER = [flag.value for _, flags in RED_FLAG_GROUPS for flag in flags]
RETIRED_GROUP = "No longer on the screen"
ARCHIVED_PATIENT = "This patient is archived: restore the record first."


class RedFlagScreenWidget(forms.CheckboxSelectMultiple):
    """Native checkboxes, each with its own label, in one fieldset with a legend per group."""

    template_name = "admin/patients/referral/red_flag_screen.html"

    class Media:
        css = {"all": ["css/red-flag-screen.css"]}

    def render(self, name, value, attrs=None, renderer=None):
        # The project's template engine: the default form renderer reads only apps' template folders.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))


class RedFlagScreenField(forms.MultipleChoiceField):
    """The items found, in screen order; an item that is not on the screen is refused by name."""

    widget = RedFlagScreenWidget
    default_error_messages = {
        "invalid_choice": "Not on the red-flag screen: %(value)s. Untick it, or reload the page to see the "
                          "current screen.",
    }

    def __init__(self, *, encoder=None, decoder=None, show_hidden_initial=False, **kwargs):
        # Built by the model's JSONField, which passes its JSON arguments and, for its callable
        # default, a hidden initial input: a list of checkbox values needs neither.
        kwargs.setdefault("choices", [(group, [(flag.value, flag.label) for flag in flags])
                                      for group, flags in RED_FLAG_GROUPS])
        super().__init__(**kwargs)

    def validate(self, value):
        super(forms.ChoiceField, self).validate(value)  # "required" only; the items are checked here
        unknown = [item for item in value if item not in RedFlag.values]
        if unknown:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice",
                                  params={"value": ", ".join(f"“{item}”" for item in unknown)})

    def clean(self, value):
        found = set(super().clean(value))
        return [item for item in SCREEN_ORDER if item in found]


class ReferralForm(forms.ModelForm):
    """A referral as the admin shows it; the screen's field exists only where the admin lists it."""

    # Model.clean names the decision's model fields, shown read-only or under other names here.
    MODEL_ERROR_FIELDS = {"red_flag_decision": ("decision", "red_flags"),
                          "red_flag_decision_note": ("decision_note", "red_flags")}

    class Meta:
        model = Referral
        # The admin narrows these per role; the decision's fields are written by their service only.
        fields = ["patient", "cause", "cause_other", "referring_clinician", "referral_date", "surgery_date", "reason",
                  "red_flags"]
        field_classes = {"red_flags": RedFlagScreenField}
        labels = {"red_flags": "Red-flag screen"}
        help_texts = {"red_flags": "Tick every item found. Nothing ticked means the screen was negative."}

    def __init__(self, *args, saved_when_unchanged: bool = True, **kwargs):
        # The referral's own page saves it every time (a revert too); the patient page only if it changed.
        self.saved_when_unchanged = saved_when_unchanged
        super().__init__(*args, **kwargs)
        screen = self.fields.get("red_flags")
        stored = self.instance.red_flags if isinstance(self.instance.red_flags, list) else []
        retired = [item for item in stored if item not in RedFlag.values]
        if screen is not None and retired:
            # Shown ticked, so saving cannot drop them unnoticed: the therapist unticks them.
            screen.choices = [*screen.choices, (RETIRED_GROUP, [(str(item), str(item)) for item in retired])]

    def clean(self):
        cleaned = super().clean()
        if not (self.saved_when_unchanged or self.has_changed()):
            return cleaned
        patient = cleaned.get("patient") or (self.instance.patient if self.instance.patient_id else None)
        if patient is not None and patient.is_archived:
            raise ValidationError({"patient": ARCHIVED_PATIENT})
        return cleaned

    def referral_changed(self) -> bool:
        """Whether a field of the referral itself changed (a decision is recorded by its own service)."""
        return bool(set(self.changed_data) - {"decision", "decision_note"})

    def add_error(self, field, error):
        # Errors of a field the page does not show (read-only, renamed, or the patient page's hidden
        # patient) go where they are seen: on the field that stands for it, or above the form.
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            placed: dict[str, list] = {}
            for name, errors in error.error_dict.items():
                if name != NON_FIELD_ERRORS and (name not in self.fields or self.fields[name].widget.is_hidden):
                    targets = [t for t in self.MODEL_ERROR_FIELDS.get(name, ()) if t in self.fields]
                    name = targets[0] if targets else NON_FIELD_ERRORS
                placed.setdefault(name, []).extend(errors)
            error = ValidationError(placed)
        super().add_error(field, error)

    def decision_to_record(self) -> tuple[str, str] | None:
        """The (decision, note) to record through the service, when this form changed them."""
        return None


class RedFlagDecisionForm(ReferralForm):
    """A referral with the decision's inputs, for roles that may decide (therapists)."""

    decision = forms.ChoiceField(choices=[("", "Not decided yet"), *RedFlagDecision.choices], required=False,
                                 label="Decision on the red-flag screen")
    decision_note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                    label="What the decision rests on")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("decision", self.instance.red_flag_decision)
        self.initial.setdefault("decision_note", self.instance.red_flag_decision_note)

    def clean(self):
        cleaned = super().clean()
        if self._decision_changed() and "red_flags" not in self.errors:
            candidate = copy.copy(self.instance)
            candidate.red_flags = cleaned.get("red_flags", self.instance.red_flags)
            try:
                services.check_red_flag_decision(referral=candidate, decision=cleaned.get("decision", ""),
                                                 note=cleaned.get("decision_note", ""))
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned

    def _decision_changed(self) -> bool:
        return bool({"decision", "decision_note"} & set(self.changed_data))

    def decision_to_record(self) -> tuple[str, str] | None:
        if not self._decision_changed():
            return None
        return self.cleaned_data["decision"], self.cleaned_data["decision_note"]


class ReferralFormSet(BaseInlineFormSet):
    """The patient page's referrals, each written through the patients services as ``saved_by``."""

    saved_by: User | None = None  # set per request by ReferralInline.get_formset

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "saved_when_unchanged": False}  # as save() does

    def save_new(self, form, commit=True):
        referral = super().save_new(form, commit=False)
        if commit:
            services.add_referral(referral=referral, added_by=self.saved_by)
        return referral

    def save_existing(self, form, obj, commit=True):
        referral = form.save(commit=False)
        if commit:
            services.update_referral(referral=referral, changed_by=self.saved_by)
        return referral


def red_flag_status(referral: Referral) -> str:
    """What the screen found and what was decided on it: by whom, when, and on what grounds."""
    if referral.pk is None:
        return "-"
    if not referral.red_flag_positive:
        return format_html('<span data-testid="red-flag-status">{}</span>', "Negative: no red flag found.")
    if not referral.red_flag_decision:
        return format_html('<strong class="red-flag-alert" data-testid="red-flag-status">{}</strong>',
                           "Red flag: awaiting a therapist's decision. No home program can be prescribed until then.")
    decided_at = timezone.localtime(referral.red_flag_decided_at).strftime("%d %b %Y %H:%M") \
        if referral.red_flag_decided_at else "an unknown time"
    return format_html(
        '<span data-testid="red-flag-status"><strong>{}</strong><br>Decided by {} on {}.<br>{}</span>',
        referral.get_red_flag_decision_display(), referral.red_flag_decided_by or "an unknown user", decided_at,
        referral.red_flag_decision_note or "",
    )
