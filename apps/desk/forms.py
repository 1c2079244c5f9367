"""Forms of the desk pages. They check shape; the services check meaning.

Dates and times are entered in the clinic's time zone (Django's current zone) and turned
into aware datetimes with the same DST rule as the slot finder. A service's
``ValidationError`` is put back on the form with ``hipclinic.errors.place_errors`` so each message
shows next to its field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.patients.models import Patient, Referral
from apps.scheduling.models import (
    SERIES_MAX_INTERVAL_WEEKS,
    SERIES_MAX_OCCURRENCES,
    AppointmentKind,
    AppointmentStatus,
    Therapist,
)
from hipclinic.zones import clinic_zone, local_to_utc


def date_input() -> forms.DateInput:
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def time_input() -> forms.TimeInput:
    return forms.TimeInput(format="%H:%M", attrs={"type": "time"})


def local_datetime(day: date, wall) -> datetime:
    """A clinic wall-clock date and time as an aware UTC datetime."""
    return local_to_utc(day, wall, clinic_zone())


class DeskFormHelper(FormHelper):
    """Fields only: templates write the <form> tag and buttons, so one page can hold two forms."""

    form_tag = False
    disable_csrf = True


class ListedChoices(forms.models.ModelChoiceIterator):
    """A choice list read with one plain query.

    Django's own iterator reads with ``QuerySet.iterator()``, which on PostgreSQL opens a
    server-side cursor (DECLARE, FETCH, CLOSE: three round trips per list, several lists per
    booking page); these lists are a few dozen rows, and a list read twice is read once.
    """

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset:
            yield self.choice(obj)


class ModelChoiceField(forms.ModelChoiceField):
    iterator = ListedChoices


class DeskForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = DeskFormHelper()


# ---------------------------------------------------------------------------- patients


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label="Search", required=False, max_length=200,
        help_text="Name, record number, e-mail, phone or date of birth (YYYY-MM-DD).",
    )
    archived = forms.BooleanField(label="Include archived patients", required=False)


class PatientForm(forms.ModelForm):
    """The patient half of registration; ``different_person`` appears only when duplicates exist."""

    different_person = forms.BooleanField(
        label="This is a different person",
        required=True,
        error_messages={
            "required": "A record with the same name and date of birth, or the same e-mail, exists. "
            "Open it instead, or tick this box if this is a different person."
        },
    )

    class Meta:
        model = Patient
        fields = [
            "first_name", "last_name", "date_of_birth", "sex", "email", "phone",
            "preferred_contact", "email_consent", "notes",
        ]
        widgets = {"date_of_birth": date_input(), "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, duplicates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.duplicates = list(duplicates or [])
        if not self.duplicates:
            del self.fields["different_person"]
        self.helper = DeskFormHelper()

    def clean_date_of_birth(self):
        value = self.cleaned_data["date_of_birth"]
        if value and value > timezone.localdate():
            raise ValidationError("The date of birth cannot be in the future.")
        return value


class ReferralForm(forms.ModelForm):
    """The desk's part of a referral: no reason and no red-flag screen (clinical content)."""

    class Meta:
        model = Referral
        fields = ["cause", "cause_other", "referring_clinician", "referral_date", "surgery_date"]
        widgets = {"referral_date": date_input(), "surgery_date": date_input()}
        labels = {"cause": "Referral cause", "cause_other": "Other cause (if Other)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = DeskFormHelper()


# ---------------------------------------------------------------------------- booking


def active_kinds():
    return AppointmentKind.objects.filter(is_active=True)


def active_therapists():
    return Therapist.objects.filter(is_active=True)


class SlotSearchForm(DeskForm):
    """Which free slots to show: a GET form, so it never changes anything."""

    kind = ModelChoiceField(label="Appointment kind", queryset=AppointmentKind.objects.none())
    therapist = ModelChoiceField(
        label="Therapist", queryset=Therapist.objects.none(), required=False, empty_label="Any therapist"
    )
    start_date = forms.DateField(label="From", widget=date_input())
    end_date = forms.DateField(label="To", widget=date_input())

    def __init__(self, *args, fixed_kind: AppointmentKind | None = None, **kwargs):
        # Its own element ids: the booking form on the same page has fields of the same names.
        kwargs.setdefault("auto_id", "search_%s")
        super().__init__(*args, **kwargs)
        self.fields["kind"].queryset = active_kinds()
        self.fields["therapist"].queryset = active_therapists()
        if fixed_kind is not None:
            del self.fields["kind"]
        self.fixed_kind = fixed_kind

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end:
            if end < start:
                self.add_error("end_date", "The last day must not be before the first.")
            elif (end - start).days + 1 > settings.SLOT_SEARCH_MAX_DAYS:
                self.add_error("end_date", f"Search at most {settings.SLOT_SEARCH_MAX_DAYS} days at a time.")
        return cleaned

    @staticmethod
    def initial_for(kind: AppointmentKind | None = None) -> dict:
        today = timezone.localdate()
        return {"kind": kind, "start_date": today, "end_date": today + timedelta(days=6)}


class BookingForm(DeskForm):
    """One booking at a time of day; the slot buttons post the same fields, hidden."""

    therapist = ModelChoiceField(label="Therapist", queryset=Therapist.objects.none())
    kind = ModelChoiceField(label="Appointment kind", queryset=AppointmentKind.objects.none())
    date = forms.DateField(label="Date", widget=date_input())
    start_time = forms.TimeField(label="Start time", widget=time_input())
    end_time = forms.TimeField(
        label="End time", widget=time_input(), required=False,
        help_text="Leave empty for the kind's usual length.",
    )
    overlap_reason = forms.CharField(
        label="Reason for a deliberate overlap", required=False, max_length=300,
        help_text="Clinic managers only: book over another appointment, and say why.",
    )

    # Service field -> form field: the service speaks of instants, the form of clock times.
    SERVICE_FIELDS = {"start": "start_time", "end": "end_time"}

    def __init__(self, *args, fixed_kind: AppointmentKind | None = None, allow_overlap: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["therapist"].queryset = active_therapists()
        self.fields["kind"].queryset = active_kinds()
        if fixed_kind is not None:
            del self.fields["kind"]
        if not allow_overlap:
            del self.fields["overlap_reason"]
        self.fixed_kind = fixed_kind

    @property
    def start(self) -> datetime:
        return local_datetime(self.cleaned_data["date"], self.cleaned_data["start_time"])

    @property
    def end(self) -> datetime | None:
        end_time = self.cleaned_data.get("end_time")
        return local_datetime(self.cleaned_data["date"], end_time) if end_time else None

    @property
    def chosen_kind(self) -> AppointmentKind:
        return self.fixed_kind or self.cleaned_data["kind"]

    def clean(self):
        cleaned = super().clean()
        start_time, end_time = cleaned.get("start_time"), cleaned.get("end_time")
        if start_time and end_time and end_time <= start_time:
            self.add_error("end_time", "The end must be after the start.")
        return cleaned


class CancelForm(DeskForm):
    reason = forms.CharField(
        label="Reason for cancelling", max_length=300, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the appointment's history. The patient is told the appointment is cancelled.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Say why the appointment is cancelled.")
        return reason


class SeriesForm(DeskForm):
    kind = ModelChoiceField(label="Appointment kind", queryset=AppointmentKind.objects.none())
    therapist = ModelChoiceField(label="Therapist", queryset=Therapist.objects.none())
    first_date = forms.DateField(label="First date", widget=date_input())
    start_time = forms.TimeField(label="Start time", widget=time_input())
    interval_weeks = forms.IntegerField(
        label="Every how many weeks", min_value=1, max_value=SERIES_MAX_INTERVAL_WEEKS, initial=1
    )
    occurrences = forms.IntegerField(
        label="Number of appointments", min_value=1, max_value=SERIES_MAX_OCCURRENCES, initial=6
    )

    SERVICE_FIELDS = {"start": "start_time", "first_start": "start_time"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].queryset = active_kinds()
        self.fields["therapist"].queryset = active_therapists()

    @property
    def first_start(self) -> datetime:
        return local_datetime(self.cleaned_data["first_date"], self.cleaned_data["start_time"])


class WaitlistForm(DeskForm):
    kind = ModelChoiceField(label="Appointment kind", queryset=AppointmentKind.objects.none())
    therapist = ModelChoiceField(
        label="Therapist", queryset=Therapist.objects.none(), required=False, empty_label="Any therapist"
    )
    earliest = forms.DateField(label="First day the patient can come", widget=date_input())
    latest = forms.DateField(label="Last day worth offering", widget=date_input())
    current_appointment = ModelChoiceField(
        label="Appointment an earlier slot would replace", queryset=None, required=False,
        empty_label="None (a new appointment)",
    )
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args, patient: Patient, upcoming=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].queryset = active_kinds()
        self.fields["therapist"].queryset = active_therapists()
        choices = self.fields["current_appointment"]
        choices.queryset = patient.appointments.filter(
            pk__in=[a.pk for a in upcoming if a.status == AppointmentStatus.BOOKED]
        ).select_related("kind", "therapist")
        choices.label_from_instance = lambda a: (
            f"{a.kind} {timezone.localtime(a.start):%a %d %b %Y %H:%M} with {a.therapist}"
        )
        if not self.is_bound:
            today = timezone.localdate()
            self.initial.setdefault("earliest", today)
            self.initial.setdefault("latest", today + timedelta(days=14))

    def clean(self):
        cleaned = super().clean()
        earliest, latest = cleaned.get("earliest"), cleaned.get("latest")
        if earliest and latest and latest < earliest:
            self.add_error("latest", "The last day must not be before the first.")
        return cleaned
