"""Admin forms: the checklist as checkboxes and questionnaire items typed as plain text."""

from __future__ import annotations

import json

from django import forms

from apps.assessments.models import (
    SIDE_FINDING_FIELDS,
    Assessment,
    Complaint,
    MeasureKind,
    OutcomeMeasure,
    SideFindings,
)
from apps.assessments.scoring import lefs

ITEMS_HELP = (
    "NPRS: one number 0-10. LEFS: 20 numbers 0-4 in item order, separated by commas; leave a gap for an "
    "unanswered item (e.g. 4,3,,2,...). Oswestry: 10 numbers 0-5; two boxes ticked in one section as 3/4 "
    "(the higher counts). PSFS: one activity per line as 'activity: score'."
)
LEFS_LEGEND = "; ".join(f"{n}. {label}" for n, label in enumerate(lefs.ITEM_LABELS, start=1))


def parse_items(measure: str, text: str):
    """The items as stored, from what a therapist typed; ValueError names the problem."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    if measure == MeasureKind.PSFS:
        activities = []
        for number, line in enumerate(filter(None, (line.strip() for line in text.splitlines())), start=1):
            name, sep, score = line.rpartition(":")
            if not sep:
                raise ValueError(f"activity {number}: write it as 'activity: score'")
            activities.append([name.strip(), _number(score, f"activity {number}")])
        return activities
    items = []
    for number, part in enumerate(text.split(","), start=1):
        part = part.strip()
        if measure == MeasureKind.ODI and "/" in part:
            items.append([_number(box, f"section {number}") for box in part.split("/")])
        else:
            items.append(_number(part, f"item {number}"))
    return items


def _number(text: str, name: str):
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a whole number") from None


def format_items(measure: str, items) -> str:
    if measure == MeasureKind.PSFS:
        return "\n".join(f"{name}: {'' if score is None else score}" for name, score in items)
    return ",".join("" if item is None else "/".join(map(str, item)) if isinstance(item, list) else str(item)
                    for item in items)


class AssessmentForm(forms.ModelForm):
    complaints = forms.MultipleChoiceField(
        choices=Complaint.choices, widget=forms.CheckboxSelectMultiple, required=False,
        label="Presenting complaints",
    )

    class Meta:
        model = Assessment
        fields = ["patient", "assessed_on", "therapist", "appointment", "complaints", "clinical_history",
                  "pain_now", "pain_worst_week", "surgeon_clearance"]


class SideFindingsForm(forms.ModelForm):
    class Meta:
        model = SideFindings
        fields = SIDE_FINDING_FIELDS
        widgets = {
            name: forms.Select(choices=[("", "not tested"), (True, "positive"), (False, "negative")])
            for name in ("thomas_iliopsoas", "thomas_rectus_femoris", "thomas_tfl")
        } | {"pain_on_resisted_flexion": forms.Select(choices=[("", "not asked"), (True, "painful"),
                                                             (False, "painless")])}


class OutcomeMeasureForm(forms.ModelForm):
    items = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), help_text=ITEMS_HELP,
                            label="Answers")

    class Meta:
        model = OutcomeMeasure
        fields = ["patient", "assessment", "measure", "recorded_on", "items", "source"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and isinstance(self.instance.items, list):
            self.initial["items"] = format_items(self.instance.measure, self.instance.items)

    def clean_items(self):
        try:
            return parse_items(self.data.get(self.add_prefix("measure"), ""), self.cleaned_data["items"])
        except (ValueError, json.JSONDecodeError) as error:
            raise forms.ValidationError(str(error)) from None
