import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from apps.patients.vocabulary import REFERRAL_CAUSES
from hipclinic import zones

RECORD_NUMBER_PREFIX = "HC"


def validate_time_zone(value: str) -> None:
    if not zones.is_zone_name(value):
        raise ValidationError("Enter an IANA time zone such as Europe/London.", code="invalid_time_zone")


def validate_not_future(value) -> None:
    if value > timezone.localdate():
        raise ValidationError("This date is in the future.", code="future_date")


def default_time_zone() -> str:
    return settings.CLINIC_TIME_ZONE


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Not recorded"


class ContactMethod(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE = re.compile(r"^\+?[\d\s()-]{6,}$")


def search_filter(text: str) -> Q:
    text = " ".join(text.replace("\x00", "").split())  # PostgreSQL refuses NUL in a query
    if not text:
        return Q()
    if _DATE.match(text):
        try:
            return Q(date_of_birth=date.fromisoformat(text))
        except ValueError:
            return Q(pk__in=[])
    if "@" in text:
        return Q(email__iexact=text)
    if _PHONE.match(text):
        digits = re.sub(r"\D", "", text)
        return Q(phone__endswith=digits[-9:]) if digits else Q(pk__in=[])
    query = Q(record_number__iexact=text)
    parts = text.split(" ")
    if len(parts) == 1:
        query |= Q(last_name__istartswith=text) | Q(first_name__istartswith=text)
    else:
        first, last = parts[0], " ".join(parts[1:])
        query |= Q(first_name__istartswith=first, last_name__istartswith=last)
        query |= Q(last_name__istartswith=parts[0], first_name__istartswith=" ".join(parts[1:]))
    return query



class PatientQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def search(self, text: str):
        """Name (either or both parts), record number, e-mail, phone or date of birth (YYYY-MM-DD)."""
        return self.filter(search_filter(text))


class Patient(models.Model):
    """A person the clinic treats. Archived, never deleted while anything refers to them."""

    # NULL only between the INSERT and the UPDATE that derives it from the id (see save()).
    record_number = models.CharField(max_length=16, unique=True, null=True, editable=False)  # noqa: DJ001
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(validators=[validate_not_future])
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True)
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    preferred_contact = models.CharField(max_length=10, choices=ContactMethod.choices, default=ContactMethod.EMAIL)
    email_consent = models.BooleanField(
        "consents to e-mail reminders", default=False,
        help_text="Appointment and program e-mails go only to patients who agreed to receive them.",
    )
    email_consent_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    notes = models.TextField(blank=True, help_text="Administrative notes (no clinical content).")
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            # The list's order. Its pages and its cursor read this index alone (OFFSET over ids, keyset
            # seek), with archived_at carried (PostgreSQL's INCLUDE) for the list of patients not archived.
            models.Index(fields=["last_name", "first_name", "id"], include=["archived_at"], name="patient_name_order"),
            models.Index(fields=["date_of_birth"]),
            models.Index(fields=["email"]),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.record_number or 'new'})"

    def save(self, *args, **kwargs):
        if self.pk is not None and "update_fields" not in kwargs:
            self._track_consent_change()
        elif self.pk is None and self.email_consent:
            self.email_consent_changed_at = timezone.now()
        super().save(*args, **kwargs)
        if self.record_number is None:
            # Sequential, readable and never reused: derived from the primary key.
            self.record_number = f"{RECORD_NUMBER_PREFIX}{self.pk:06d}"
            type(self).objects.filter(pk=self.pk).update(record_number=self.record_number)

    def _track_consent_change(self) -> None:
        before = type(self).objects.filter(pk=self.pk).values_list("email_consent", flat=True).first()
        if before is not None and before != self.email_consent:
            self.email_consent_changed_at = timezone.now()

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def zone(self) -> ZoneInfo:
        """The patient's own zone (the clinic's if the name is unknown): their dates and quiet hours."""
        return zones.zone_named(self.time_zone)

    def today(self, now: datetime | None = None) -> date:
        return zones.local_date(self.zone, now)

    @property
    def can_receive_email(self) -> bool:
        return bool(self.email) and self.email_consent and not self.is_archived


# clinical-reference.md section 1, "Referral causes": ReferralCause.TRANSPSOAS_SURGERY == "transpsoas_surgery".
ReferralCause = models.TextChoices(
    "ReferralCause", [(value.upper(), (value, label)) for value, label in REFERRAL_CAUSES.items()]
)


class RedFlag(models.TextChoices):
    # clinical-reference.md section 7 (NICE NG59; Gloucestershire NHS pathways), our wording.
    SADDLE_ANAESTHESIA = "saddle_anaesthesia", "Numbness in the saddle area"
    BLADDER = "bladder", "New bladder retention or incontinence"
    BOWEL = "bowel", "Bowel incontinence"
    LEG_NEUROLOGY = "leg_neurology", "Leg neurology in both legs, or getting worse"
    CANCER_HISTORY = "cancer_history", "History of cancer"
    WEIGHT_LOSS = "weight_loss", "Weight loss without a reason"
    CONSTANT_NIGHT_PAIN = "constant_night_pain", "Constant pain or pain at night"
    FEVER_INFECTION = "fever_infection", "Fever or a recent infection"
    IMMUNOSUPPRESSION = "immunosuppression", "Immunosuppressed"
    IV_DRUG_USE = "iv_drug_use", "Intravenous drug use"
    TRAUMA = "trauma", "Major trauma, or minor trauma with osteoporosis"
    CANNOT_BEAR_WEIGHT = "cannot_bear_weight", "Cannot bear weight on the leg"
    HOT_SWOLLEN_JOINT = "hot_swollen_joint", "Hot, swollen hip with fever"
    SHORTENED_ROTATED_LEG = "shortened_rotated_leg", "Leg shortened or turned outwards"
    ADOLESCENT_HIP_KNEE_PAIN = "adolescent_hip_knee_pain", "Adolescent with hip or knee pain"


# The screen as clinical-reference.md section 7 groups it; forms show one labelled group per region.
RED_FLAG_GROUPS: tuple[tuple[str, tuple[RedFlag, ...]], ...] = (
    ("Low back", (
        RedFlag.SADDLE_ANAESTHESIA, RedFlag.BLADDER, RedFlag.BOWEL, RedFlag.LEG_NEUROLOGY, RedFlag.CANCER_HISTORY,
        RedFlag.WEIGHT_LOSS, RedFlag.CONSTANT_NIGHT_PAIN, RedFlag.FEVER_INFECTION, RedFlag.IMMUNOSUPPRESSION,
        RedFlag.IV_DRUG_USE, RedFlag.TRAUMA,
    )),
    ("Hip", (
        RedFlag.CANNOT_BEAR_WEIGHT, RedFlag.HOT_SWOLLEN_JOINT, RedFlag.SHORTENED_ROTATED_LEG,
        RedFlag.ADOLESCENT_HIP_KNEE_PAIN,
    )),
)


class RedFlagDecision(models.TextChoices):
    REFERRED_ON = "referred_on", "Referred on; do not treat here"
    CLEARED = "cleared", "Reviewed; safe to treat here"


def validate_red_flags(value) -> None:
    if not isinstance(value, list) or any(flag not in RedFlag.values for flag in value):
        raise ValidationError("Choose red flags from the checklist.", code="invalid_red_flag")


class Referral(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="referrals")
    cause = models.CharField(max_length=32, choices=ReferralCause.choices)
    cause_other = models.CharField("other cause", max_length=200, blank=True)
    referring_clinician = models.CharField(max_length=200, blank=True)
    referral_date = models.DateField(default=timezone.localdate)
    surgery_date = models.DateField(null=True, blank=True, help_text="Required for lateral transpsoas surgery.")
    reason = models.TextField(blank=True)
    red_flags = models.JSONField(
        default=list, blank=True, validators=[validate_red_flags],
        help_text="Red-flag screen: every item found. Empty means the screen was negative.",
    )
    red_flag_decision = models.CharField(max_length=20, choices=RedFlagDecision.choices, blank=True)
    red_flag_decision_note = models.TextField(blank=True)
    red_flag_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    red_flag_decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-referral_date", "-id"]
        indexes = [models.Index(fields=["cause"])]
        permissions = [
            # The screen's items are clinical: the front desk sees only that an alert is open.
            ("view_red_flag_screen", "Can see the items of a red-flag screen"),
            ("decide_red_flag", "Can record the decision on a positive red-flag screen"),
        ]

    def __str__(self) -> str:
        return f"{self.get_cause_display()} referral ({self.referral_date:%Y-%m-%d})"

    def clean(self):
        errors = {}
        if self.cause == ReferralCause.TRANSPSOAS_SURGERY and not self.surgery_date:
            errors["surgery_date"] = "Enter the surgery date for a lateral transpsoas surgery referral."
        if self.cause == ReferralCause.OTHER and not self.cause_other.strip():
            errors["cause_other"] = "Say what the other cause is."
        if self.surgery_date and self.referral_date and self.surgery_date > self.referral_date:
            errors["surgery_date"] = "The surgery date cannot be after the referral date."
        if self.red_flag_decision and not self.red_flags:
            errors["red_flag_decision"] = "A decision is only needed when the screen found a red flag."
        if errors:
            raise ValidationError(errors)

    @property
    def red_flag_positive(self) -> bool:
        return bool(self.red_flags)

    @property
    def red_flag_unresolved(self) -> bool:
        """A positive screen without a therapist's decision: blocks prescribing."""
        return self.red_flag_positive and not self.red_flag_decision
