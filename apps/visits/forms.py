"""Forms of the visits admin: the note's draft, starting a note, and the signature pages."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits import codes
from apps.visits.models import NoteKind, PlanDiagnosis, PlanGoal, PlanOfCare, VisitNote

MINUTES_LINE = re.compile(r"^\s*(\d{5})\s*[:=\-]?\s*(\d{1,3})\s*(?:min(?:utes)?)?\s*$", re.IGNORECASE)


def minutes_as_text(rows: list[dict]) -> str:
    return "\n".join(f"{row['code']} {row['minutes']}" for row in rows or [])


def parse_minutes(text: str) -> list[dict]:
    """'97110 23' per line -> [{"code": "97110", "minutes": 23}], refusing what it cannot read or check."""
    rows, problems = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = MINUTES_LINE.match(line)
        if not match:
            problems.append(f"Line {number}: write a procedure code and its minutes, e.g. 97110 23.")
            continue
        rows.append({"code": match.group(1), "minutes": int(match.group(2))})
    problems += list(codes.minutes_problems(rows).values())
    if problems:
        raise ValidationError(problems)
    return rows


PROCEDURE_HELP = "One line per procedure: code and minutes, e.g. “97110 23”. Codes: " + "; ".join(
    f"{p.code} {p.label}{'' if p.timed else ' (untimed)'}" for p in codes.PROCEDURES.values())


class VisitNoteForm(forms.ModelForm):
    """A draft: its four sections, its kind and the minutes per procedure code."""

    minutes = forms.CharField(label="treatment minutes", required=False, help_text=PROCEDURE_HELP,
                              widget=forms.Textarea(attrs={"rows": 3, "cols": 30}))

    class Meta:
        model = VisitNote
        fields = ["kind", "subjective", "objective", "assessment", "plan"]
        widgets = {name: forms.Textarea(attrs={"rows": 7, "cols": 100})
                   for name in ("subjective", "objective", "assessment", "plan")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["minutes"] = minutes_as_text(self.instance.treatment_minutes)

    def clean_minutes(self):
        return parse_minutes(self.cleaned_data.get("minutes", ""))

    def clean(self):
        cleaned = super().clean()
        for name in ("subjective", "objective", "assessment", "plan"):
            if "\x00" in (cleaned.get(name) or ""):
                self.add_error(name, "This text contains a character that cannot be stored.")
        return cleaned


def startable_appointments():
    """Visits that happened in the last 30 days and have no note yet."""
    since = timezone.now() - timedelta(days=30)
    return (Appointment.objects.filter(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.CHECKED_IN],
                                       start__gte=since, start__lte=timezone.now(), visit_note__isnull=True)
            .select_related("patient", "therapist").order_by("-start"))


class StartNoteForm(forms.Form):
    appointment = forms.ModelChoiceField(queryset=Appointment.objects.none(),
                                         help_text="Checked-in or completed visits of the last 30 days without a note.")
    kind = forms.ChoiceField(choices=NoteKind.choices, initial=NoteKind.DAILY)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["appointment"].queryset = startable_appointments()
        self.fields["appointment"].label_from_instance = (
            lambda a: f"{timezone.localtime(a.start):%a %d %b %H:%M} · {a.patient} · {a.therapist}")


class ConfirmIdentityForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False,
                               help_text="Your own password, again: a signature is yours alone.")
    code = forms.CharField(label="one-time code", required=False, max_length=20,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
                           help_text="From your authenticator app, if you use two-factor sign-in "
                                     "(or one of your recovery codes).")


class AddendumForm(ConfirmIdentityForm):
    reason = forms.CharField(max_length=200, help_text="Why the signed note needs this (e.g. late entry, correction).")
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 100}), max_length=8000)
    minutes = forms.CharField(
        label="corrected treatment minutes", required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 30}),
        help_text="Only to correct the minutes: the whole corrected list, one line per code (“97110 23”). "
                  "Left empty, the note's minutes stand.")

    field_order = ["reason", "text", "minutes", "password", "code"]

    def clean_minutes(self):
        text = self.cleaned_data.get("minutes", "")
        return parse_minutes(text) if text.strip() else None


class PlanOfCareForm(forms.ModelForm):
    class Meta:
        model = PlanOfCare
        fields = ["patient", "referral", "therapist", "program", "started_on", "visits_per_week", "duration_weeks",
                  "treatment"]

    def clean(self):
        cleaned = super().clean()
        patient, therapist = cleaned.get("patient"), cleaned.get("therapist")
        started_on = cleaned.get("started_on")
        if started_on is not None:
            from apps.visits.services import plan_start_problem

            problem = plan_start_problem(started_on)
            if problem:
                self.add_error("started_on", problem)
        if therapist is not None and not therapist.has_role("therapist"):
            self.add_error("therapist", "Choose a therapist.")
        if patient is not None:
            for name in ("program", "referral"):
                row = cleaned.get(name)
                if row is not None and row.patient_id != patient.pk:
                    self.add_error(name, f"This {name} is another patient's.")
            if not self.instance.pk and PlanOfCare.objects.filter(patient=patient, status="open").exists():
                self.add_error("patient", "This patient already has an open plan of care: update it, or discharge "
                                          "it before starting another.")
        return cleaned


class PlanDiagnosisForm(forms.ModelForm):
    description = forms.CharField(max_length=200, required=False,
                                  help_text="Left empty, the text of the clinic's list of codes is used.")

    class Meta:
        model = PlanDiagnosis
        fields = ["code", "description"]

    def clean_code(self):
        code = codes.normalise_icd10(self.cleaned_data.get("code", ""))
        if not codes.is_icd10cm(code):
            raise ValidationError(codes.ICD10CM_HELP)
        return code


class PlanGoalForm(forms.ModelForm):
    class Meta:
        model = PlanGoal
        fields = ["description", "measure", "target"]
