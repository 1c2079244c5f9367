from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords


class Heartbeat(models.Model):
    """The last time a background process proved it was alive (one row per process kind)."""

    name = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class AccessLog(models.Model):
    """Who opened which clinical record, and when (written on every read of one)."""

    user = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    record_type = models.CharField(max_length=60)  # app_label.model
    record_id = models.CharField(max_length=40)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    via = models.CharField(max_length=10)  # "api" or "admin"
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "clinical record access"
        verbose_name_plural = "clinical record accesses"

    def __str__(self) -> str:
        return f"{self.record_type} #{self.record_id} at {self.at:%Y-%m-%d %H:%M}"


def validate_week_list(value: str) -> None:
    """'2, 4, 6': program weeks in rising order, each from 1 to 52."""
    try:
        weeks = parse_week_list(value)
    except ValueError:
        raise ValidationError("List whole weeks separated by commas, e.g. 2, 4, 6.", code="invalid_weeks") from None
    if any(not 1 <= week <= 52 for week in weeks):
        raise ValidationError("Each week must be from 1 to 52.", code="invalid_weeks")
    if weeks != sorted(set(weeks)):
        raise ValidationError("List each week once, in rising order.", code="invalid_weeks")


def validate_currency(value: str) -> None:
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise ValidationError("Three capital letters, the ISO 4217 code (e.g. USD).", code="invalid_currency")


def parse_week_list(value: str) -> list[int]:
    return [int(part) for part in value.replace(" ", "").split(",") if part]


def _between(low: int, high: int) -> list:
    return [MinValueValidator(low), MaxValueValidator(high)]


class ClinicPolicy(models.Model):
    """What a clinic manager decides for the clinic: one row, edited in the admin, every change kept.

    Read it through ``apps.ops.policy.clinic_policy()``, which asks the database once per
    request or task, so a change made in the admin holds from the next request, reminder scan
    or e-mail on, in every process. Deployment settings stay in the environment.
    """

    SINGLETON_ID = 1

    # The clinic, as patients see it at the end of every e-mail.
    clinic_name = models.CharField(max_length=120, default="hipclinic")
    address = models.TextField(blank=True, max_length=400)
    phone = models.CharField(max_length=40, blank=True, help_text="As patients should dial it.")
    email_closing = models.TextField(
        "closing text of patient e-mails", blank=True, max_length=600,
        help_text="Ends every e-mail to a patient, above the clinic's name, address and phone "
                  "(e.g. opening hours, or what to do in an emergency).",
    )
    front_desk_email = models.EmailField(
        "front desk's address", default="frontdesk@localhost",
        help_text="Receives the daily list of follow-ups to book (record numbers only).",
    )

    # E-mail timing.
    quiet_hours = models.BooleanField(
        "hold scheduled e-mail during quiet hours", default=True,
        help_text="Reminders and program e-mails wait until the end of the quiet hours in the recipient's "
                  "own time zone.",
    )
    quiet_hours_start = models.TimeField(default=time(21))
    quiet_hours_end = models.TimeField(default=time(8))

    # Booking.
    slot_step_minutes = models.PositiveSmallIntegerField(
        "slot grid (minutes)", default=15, validators=_between(5, 60),
        help_text="Free slots start this many minutes apart from the start of each working block.",
    )

    # Assessment (clinical-reference.md section 2: clinic-set thresholds).
    knee_hold_pass_seconds = models.PositiveSmallIntegerField(
        "knee-to-chest hold that passes (s)", default=10, validators=_between(1, 600))
    lsi_deficit_below_percent = models.PositiveSmallIntegerField(
        "limb symmetry index deficit below (%)", default=90, validators=_between(50, 100),
        help_text="A weaker side below this share of the stronger one counts as a deficit.")
    intake_link_days = models.PositiveSmallIntegerField(
        "intake questionnaire link valid for (days)", default=14, validators=_between(1, 90))

    # Programs (sections 5 and 6).
    program_link_days = models.PositiveSmallIntegerField(
        "patient's program link valid for (days)", default=90, validators=_between(1, 365))
    transpsoas_clearance_weeks = models.PositiveSmallIntegerField(
        "weeks after transpsoas surgery needing the surgeon's clearance", default=6, validators=_between(0, 52),
        help_text="Loaded or resisted exercises within this many weeks of the surgery need documented clearance.")
    followup_weeks = models.CharField(
        "re-assessments at program weeks", max_length=60, default="2, 4, 6", validators=[validate_week_list],
        help_text="Activating a program plans a re-assessment to book at each of these weeks.")
    followup_flag_after_days = models.PositiveSmallIntegerField(
        "flag an unbooked follow-up after (days)", default=7, validators=_between(1, 90))
    progression_auto_apply = models.BooleanField(
        "apply progression proposals without approval", default=False,
        help_text="Off: a therapist approves each proposed change of dose before the patient sees it.")
    missed_session_days = models.PositiveSmallIntegerField(
        "nudge after days without a logged session", default=4, validators=_between(1, 60),
        help_text="At most one nudge a week per patient.")

    # Plans of care and visit notes (clinical-reference.md section 8: Medicare's numbers are
    # the defaults; other payers and countries differ, so each is the clinic's to set).
    plan_of_care_clock = models.BooleanField(
        "keep the plan-of-care clock", default=True,
        help_text="Off: no certification, progress-report or re-certification deadlines are shown or e-mailed "
                  "(for clinics whose payers do not ask for them).")
    certification_due_days = models.PositiveSmallIntegerField(
        "certification due within (days of the first treatment)", default=30, validators=_between(1, 365))
    recertification_days = models.PositiveSmallIntegerField(
        "re-certify every (days)", default=90, validators=_between(7, 365))
    progress_report_every_visits = models.PositiveSmallIntegerField(
        "progress report every (treatment visits)", default=10, validators=_between(1, 60))
    unsigned_note_hours = models.PositiveSmallIntegerField(
        "flag a note still unsigned after (hours)", default=24, validators=_between(1, 720))
    cosign_hours = models.PositiveSmallIntegerField(
        "flag an assistant's note not co-signed after (hours)", default=48, validators=_between(1, 720))
    late_cancellation_hours = models.PositiveSmallIntegerField(
        "a cancellation is late inside (hours before the start)", default=24, validators=_between(1, 168),
        help_text="The reports count a cancellation made this close to the appointment as a late one.")
    report_visit_minutes = models.PositiveSmallIntegerField(
        "minutes to book for a visit with a progress report", default=45, validators=_between(15, 120),
        help_text="The front desk sees this as a booking hint when the clock says a report falls on a visit.")
    therapist_digest_time = models.TimeField(
        "therapists' daily digest at", default=time(7),
        help_text="Clinic time. Each therapist gets one e-mail a day listing what is due or overdue.")

    # Sign-in.
    # Billing (issue 13): what a superbill and an invoice name the clinic by.
    currency = models.CharField(
        "currency", max_length=3, default="USD", validators=[validate_currency],
        help_text="ISO 4217 code (USD, EUR, GBP...). Prices, invoices and payments are in it.")
    billing_npi = models.CharField("clinic's NPI (group)", max_length=10, blank=True)
    tax_id = models.CharField("clinic's tax id (EIN)", max_length=20, blank=True)

    two_factor_for_front_desk = models.BooleanField(
        "require two-factor sign-in for the front desk", default=False,
        help_text="Therapists, assistants and managers always need it; tick to require it for the front desk too.")

    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "clinic policy"
        verbose_name_plural = "clinic policy"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="clinic_policy_single_row")]

    def __str__(self) -> str:
        return f"Policy of {self.clinic_name}"

    def clean(self):
        if self.quiet_hours and self.quiet_hours_start == self.quiet_hours_end:
            raise ValidationError({"quiet_hours_end": "Quiet hours must end at another time than they start "
                                                      "(untick the box to send at any hour)."})

    @property
    def followup_week_numbers(self) -> list[int]:
        return parse_week_list(self.followup_weeks)
