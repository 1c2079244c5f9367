"""The patient's intake form: NPRS, the 20 LEFS items and up to 5 PSFS activities, every answer optional.

Wording: NPRS and PSFS are ours (``scoring/nprs.py``, ``scoring/psfs.py``); the LEFS uses
only our short item labels and scale words from ``scoring/lefs.py``, never the form's text.
"""

from __future__ import annotations

from django import forms

from apps.assessments.scoring import lefs, nprs, psfs

CHOICE_ERROR = "Choose one of the answers shown."
PSFS_SCORE_ERROR = "Choose a score from 0 to 10."

NPRS_CHOICES = [(str(n), str(n)) for n in range(nprs.ITEM_MIN, nprs.ITEM_MAX + 1)]
LEFS_CHOICES = [(str(n), lefs.SCALE_LABELS[n]) for n in range(lefs.ITEM_MIN, lefs.ITEM_MAX + 1)]
PSFS_CHOICES = [("", "Choose a score"), *((str(n), str(n)) for n in range(psfs.ITEM_MIN, psfs.ITEM_MAX + 1))]


def _radio_field(choices) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=choices, coerce=int, empty_value=None, required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"invalid_choice": CHOICE_ERROR},
    )


def lefs_name(number: int) -> str:
    return f"lefs_{number}"


def psfs_names(number: int) -> tuple[str, str]:
    return f"psfs_activity_{number}", f"psfs_score_{number}"


class IntakeForm(forms.Form):
    nprs = _radio_field(NPRS_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for number in range(1, lefs.ITEM_COUNT + 1):
            self.fields[lefs_name(number)] = _radio_field(LEFS_CHOICES)
        for number in range(1, psfs.MAX_ACTIVITIES + 1):
            activity, score = psfs_names(number)
            self.fields[activity] = forms.CharField(
                label=f"Activity {number}", max_length=100, required=False, strip=True,
                widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
            )
            self.fields[score] = forms.TypedChoiceField(
                label=f"Score for activity {number}", choices=PSFS_CHOICES, coerce=int, empty_value=None,
                required=False, widget=forms.Select(attrs={"class": "form-select"}),
                error_messages={"invalid_choice": PSFS_SCORE_ERROR},
            )

    def add_error(self, field, error):
        # Every error passes here (field cleaning, clean(), the view): mark the inputs so
        # screen readers announce them and Bootstrap shows them in red.
        super().add_error(field, error)
        names = [field] if isinstance(field, str) else list(getattr(error, "error_dict", {}) or [])
        for name in names:
            if name in self.fields:
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["aria-describedby"] = f"{name}-error"
                if "is-invalid" not in attrs.get("class", ""):
                    attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()

    # ------------------------------------------------------------------------ for the template

    def lefs_items(self) -> list[tuple[int, str, forms.BoundField]]:
        return [(n, label, self[lefs_name(n)]) for n, label in enumerate(lefs.ITEM_LABELS, start=1)]

    def psfs_rows(self) -> list[tuple[int, forms.BoundField, forms.BoundField]]:
        return [(n, self[psfs_names(n)[0]], self[psfs_names(n)[1]]) for n in range(1, psfs.MAX_ACTIVITIES + 1)]

    # ------------------------------------------------------------------------ validation

    def clean(self):
        cleaned = super().clean()
        for number in range(1, psfs.MAX_ACTIVITIES + 1):
            activity, score = psfs_names(number)
            if activity in self.errors or score in self.errors:
                continue
            if cleaned.get(activity) and cleaned.get(score) is None:
                self.add_error(score, "Give this activity a score from 0 to 10, or clear its name.")
            elif not cleaned.get(activity) and cleaned.get(score) is not None:
                self.add_error(activity, "Name the activity you scored.")
        if not self.errors and self.answers() == (None, [], []):
            raise forms.ValidationError("Answer at least one question before sending.", code="empty")
        return cleaned

    def answers(self) -> tuple[int | None, list[int | None], list[tuple[str, int | None]]]:
        """(nprs, lefs, psfs) as ``submit_intake`` takes them: an all-empty LEFS is given as []."""
        data = self.cleaned_data
        lefs_items = [data.get(lefs_name(n)) for n in range(1, lefs.ITEM_COUNT + 1)]
        if all(item is None for item in lefs_items):
            lefs_items = []
        pairs = []
        for number in range(1, psfs.MAX_ACTIVITIES + 1):
            activity, score = psfs_names(number)
            if data.get(activity):
                pairs.append((data[activity], data.get(score)))
        return data.get("nprs"), lefs_items, pairs
