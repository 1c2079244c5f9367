"""Plans of care (one per episode, referral to discharge) and the notes of each visit.

A visit note is a draft until its author signs it; from then on its content never
changes. The services refuse it, the admin shows it read-only, and on PostgreSQL a
trigger refuses any UPDATE of a signed note's content and any DELETE (on SQLite, the
embedded default, a plain SQLite trigger from migration 0002 does the same). A SHA-256
of the signed content is stored with it (``manage.py verify_signed_notes``). Corrections
are addenda, each signed by its author and locked the same way.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.assessments.models import MeasureKind
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Program
from apps.scheduling.models import Appointment
from apps.visits import codes


def validate_icd10cm(value: str) -> None:
    if not codes.is_icd10cm(value):
        raise ValidationError(codes.ICD10CM_HELP, code="invalid_icd10cm")


class DiagnosisCode(models.Model):
    """An ICD-10-CM code offered when writing a plan (the curated list; clinics may add more)."""

    code = models.CharField(max_length=8, unique=True, validators=[validate_icd10cm])
    description = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "diagnosis code"

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class PlanStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISCHARGED = "discharged", "Discharged"


class PlanOfCare(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="plans_of_care")
    referral = models.ForeignKey(Referral, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plans_of_care",
                                  help_text="The therapist responsible for the plan; co-signs its assistants' notes.")
    program = models.ForeignKey(Program, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                help_text="The home program that goes with the plan.")
    started_on = models.DateField(default=timezone.localdate,
                                  help_text="Start of the episode: visits from this day on count towards the plan.")
    visits_per_week = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)])
    duration_weeks = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(52)])
    treatment = models.TextField("type of therapy", blank=True, max_length=2000,
                                 help_text="What treatment the plan gives (e.g. therapeutic exercise, gait training).")
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.OPEN)
    discharged_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_on", "-id"]
        verbose_name = "plan of care"
        verbose_name_plural = "plans of care"
        constraints = [
            models.UniqueConstraint(fields=["patient"], condition=models.Q(status="open"),
                                    name="one_open_plan_per_patient"),
        ]

    def __str__(self) -> str:
        return f"Plan of care of {self.patient} from {self.started_on:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status == PlanStatus.OPEN


class PlanDiagnosis(models.Model):
    plan = models.ForeignKey(PlanOfCare, on_delete=models.CASCADE, related_name="diagnoses")
    code = models.CharField("ICD-10-CM code", max_length=8, validators=[validate_icd10cm])
    description = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "position", "id"]
        verbose_name_plural = "diagnoses"
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="one_row_per_diagnosis_code")]

    def __str__(self) -> str:
        return f"{self.code} {self.description}"


class PlanGoal(models.Model):
    """A long-term goal; tied to an outcome measure and a target, the notes can say whether it is met."""

    plan = models.ForeignKey(PlanOfCare, on_delete=models.CASCADE, related_name="goals")
    description = models.CharField(max_length=300)
    measure = models.CharField(max_length=5, choices=MeasureKind.choices, blank=True)
    target = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True,
                                 help_text="The score to reach (at least it, or at most it where lower is better).")
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "position", "id"]

    def __str__(self) -> str:
        return self.description


class Certification(models.Model):
    """The referring clinician's signature on the plan (the first, or a re-certification)."""

    plan = models.ForeignKey(PlanOfCare, on_delete=models.CASCADE, related_name="certifications")
    signed_on = models.DateField(help_text="The date on the referring clinician's signature.")
    clinician = models.CharField("referring clinician", max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "signed_on", "id"]

    def __str__(self) -> str:
        return f"Certified by {self.clinician} on {self.signed_on:%Y-%m-%d}"


class NoteKind(models.TextChoices):
    DAILY = "daily", "Daily note"
    PROGRESS = "progress", "Progress report"
    REEVALUATION = "reeval", "Re-evaluation"
    DISCHARGE = "discharge", "Discharge summary"


# The kinds only a therapist may write (assistants write daily notes).
THERAPIST_ONLY_KINDS = (NoteKind.PROGRESS, NoteKind.REEVALUATION, NoteKind.DISCHARGE)
# The kinds that review progress against the plan's goals (and so reset the progress-report count).
REPORT_KINDS = (NoteKind.PROGRESS, NoteKind.REEVALUATION, NoteKind.DISCHARGE)


class NoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    AWAITING_COSIGNATURE = "awaiting", "Awaiting co-signature"
    SIGNED = "signed", "Signed"


# The columns a signature locks (and the content hash covers, with the signer and time).
LOCKED_FIELDS = ["kind", "patient", "appointment", "plan_of_care", "author", "subjective", "objective",
                 "assessment", "plan", "goal_review", "treatment_minutes", "signed_by", "signed_at", "content_hash"]
# The co-signature is set once, after the signature; then it is locked too.
COSIGN_FIELDS = ["cosigned_by", "cosigned_at"]


def _changed(fields: list[str]):
    return reduce(or_, [pgtrigger.Q(**{f"old__{name}__df": pgtrigger.F(f"new__{name}")}) for name in fields])


def _column_changed(fields: list[str]):
    columns = [f"{name}_id" if name in ("patient", "appointment", "plan_of_care", "author", "signed_by",
                                        "cosigned_by") else name for name in fields]
    return _changed(columns)


class VisitNote(models.Model):
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="visit_note")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visit_notes")
    plan_of_care = models.ForeignKey(PlanOfCare, on_delete=models.PROTECT, related_name="notes")
    kind = models.CharField(max_length=10, choices=NoteKind.choices, default=NoteKind.DAILY)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visit_notes")
    subjective = models.TextField(blank=True, max_length=8000)
    objective = models.TextField(blank=True, max_length=8000)
    assessment = models.TextField(blank=True, max_length=8000)
    plan = models.TextField(blank=True, max_length=8000)
    goal_review = models.JSONField(default=list, blank=True,
                                   help_text="Progress reports and discharge summaries: each goal's baseline, "
                                             "current value and whether it was met.")
    treatment_minutes = models.JSONField(default=list, blank=True,
                                         help_text='Minutes per procedure code: [{"code": "97110", "minutes": 23}].')
    status = models.CharField(max_length=10, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    signed_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    cosigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    cosigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="visitnote_status_created")]
        constraints = [
            models.CheckConstraint(
                name="signed_note_has_signature",
                condition=models.Q(status="draft") | models.Q(signed_at__isnull=False, signed_by__isnull=False)
                & ~models.Q(content_hash=""),
            ),
        ]
        triggers = [
            # The database's word on "a signed note never changes": the content and signature
            # columns of a signed note, and a co-signature once given. Tests bypass it with
            # pgtrigger.ignore("visits.VisitNote:protect_signed_note") only to tamper on purpose.
            pgtrigger.Protect(
                name="protect_signed_note",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__signed_at__isnull=False) & (
                    _column_changed(LOCKED_FIELDS)
                    | _changed(["status"]) & ~pgtrigger.Q(old__status="awaiting", new__status="signed")
                ) | pgtrigger.Q(old__cosigned_at__isnull=False) & _column_changed(COSIGN_FIELDS),
            ),
            pgtrigger.Protect(
                name="keep_signed_note",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__signed_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.patient} ({self.appointment.start:%Y-%m-%d})"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class Addendum(models.Model):
    """A correction or late addition to a signed note: its own author, time, reason and signature."""

    note = models.ForeignKey(VisitNote, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    text = models.TextField(max_length=8000)
    treatment_minutes = models.JSONField(
        null=True, blank=True,
        help_text="A correction of the note's minutes per procedure code (the whole corrected list); "
                  "empty when the addendum changes no minutes.")
    signed_at = models.DateTimeField()
    content_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["note", "signed_at", "id"]
        verbose_name_plural = "addenda"
        triggers = [
            pgtrigger.Protect(name="addendum_never_changes", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        return f"Addendum of {self.signed_at:%Y-%m-%d %H:%M} to note #{self.note_id}"
