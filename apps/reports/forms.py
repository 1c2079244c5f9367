"""The dashboard's filter form: shape here, meaning (range length, who is a therapist) in ``figures.validate``."""

from __future__ import annotations

from datetime import timedelta

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q

from apps.accounts.roles import GROUP_NAMES, Role
from apps.patients.vocabulary import REFERRAL_CAUSES
from apps.reports import figures
from hipclinic.errors import place_errors
from hipclinic.zones import clinic_today

DEFAULT_DAYS = 90


def date_input() -> forms.DateInput:
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def therapist_choices() -> list[tuple[str, str]]:
    users = (get_user_model().objects.filter(Q(therapist__isnull=False) | Q(groups__name=GROUP_NAMES[Role.THERAPIST]))
             .distinct().order_by("first_name", "last_name", "username"))
    return [("", "All therapists")] + [(str(user.pk), user.get_full_name() or user.username) for user in users]


def with_defaults(query) -> dict:
    """The query with the last 90 days of the clinic's dates where it names no range."""
    data = query.dict()
    today = clinic_today()
    data.setdefault("start", (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat())
    data.setdefault("end", today.isoformat())
    return data


class FilterForm(forms.Form):
    start = forms.DateField(label="From", widget=date_input())
    end = forms.DateField(label="To (included)", widget=date_input())
    therapist = forms.TypedChoiceField(label="Therapist", coerce=int, required=False, empty_value=None)
    cause = forms.ChoiceField(label="Referral cause", required=False,
                              choices=[("", "All causes"), *REFERRAL_CAUSES.items()])

    def __init__(self, *args, own_figures_of=None, **kwargs):
        """``own_figures_of``: a therapist, who sees their own figures only (no therapist field)."""
        super().__init__(*args, **kwargs)
        self.own_figures_of = own_figures_of
        if own_figures_of is not None:
            del self.fields["therapist"]
        else:
            self.fields["therapist"].choices = therapist_choices()
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        therapist = (self.own_figures_of.pk if self.own_figures_of is not None else cleaned.get("therapist"))
        try:
            self.filters = figures.validate(start=cleaned["start"], end=cleaned["end"], therapist=therapist,
                                            cause=cleaned.get("cause") or None)
        except ValidationError as error:
            place_errors(error, [self])
        return cleaned
