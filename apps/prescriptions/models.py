"""The exercise library and home programs (the prescription), with versions.

A program's items are edited in place; every time the items of an active program
change, an immutable ProgramVersion snapshot records the new items with who changed what
and when, so every version stays readable and the patient always sees the current one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.assessments.models import Assessment
from apps.patients.models import Patient
from apps.prescriptions import dosing


class MuscleBias(models.TextChoices):
    ILIOPSOAS = "iliopsoas", "Iliopsoas"
    RECTUS_FEMORIS = "rectus_femoris", "Rectus femoris"


class Equipment(models.TextChoices):
    NONE = "none", "None"
    CHAIR = "chair", "Chair"
    WALL = "wall", "Wall"
    ANKLE_WEIGHTS = "ankle_weights", "Ankle weights"
    FLOOR_SLIDERS = "floor_sliders", "Floor sliders"
    RESISTANCE_BAND = "resistance_band", "Resistance band"
    MINI_BAND = "mini_band", "Mini-band"
    BAR = "bar", "Bar"


class DoseType(models.TextChoices):
    REPETITIONS = "repetitions", "Repetitions"
    HOLD_SECONDS = "hold_seconds", "Hold (seconds)"
    STEPS = "steps", "Steps"
    MINUTES = "minutes", "Minutes"


class LoadUnit(models.TextChoices):
    NONE = "none", dosing.LOAD_UNIT_LABELS["none"]
    KG = "kg", dosing.LOAD_UNIT_LABELS["kg"]
    BAND = "band", dosing.LOAD_UNIT_LABELS["band"]


class ExerciseQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def ladder(self):
        return self.order_by("ladder_rank", "name")


class Exercise(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True)
    ladder_rank = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(20)], help_text="1 = easiest."
    )
    muscle_bias = models.CharField(max_length=20, choices=MuscleBias.choices)
    equipment = models.CharField(max_length=20, choices=Equipment.choices, default=Equipment.NONE)
    instructions = models.JSONField(default=list, help_text="Numbered steps, one per line, in plain words.")
    per_side = models.BooleanField(default=True, help_text="Done on each leg in turn.")
    dose_type = models.CharField(max_length=15, choices=DoseType.choices, default=DoseType.REPETITIONS)
    default_sets = models.PositiveSmallIntegerField(default=2)
    min_sets = models.PositiveSmallIntegerField(default=1)
    max_sets = models.PositiveSmallIntegerField(default=3)
    default_dose_low = models.PositiveSmallIntegerField(default=8)
    default_dose_high = models.PositiveSmallIntegerField(default=12)
    min_dose = models.PositiveSmallIntegerField(default=6)
    max_dose = models.PositiveSmallIntegerField(default=20)
    load_unit = models.CharField(max_length=5, choices=LoadUnit.choices, default=LoadUnit.NONE)
    max_load = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    loaded_or_resisted = models.BooleanField(
        default=False, help_text="Uses external load or resistance (matters after transpsoas surgery)."
    )
    cautions = models.JSONField(default=dict, blank=True, help_text="Referral cause -> caution shown to therapists.")
    image = models.ImageField(upload_to="exercises/", blank=True)
    video_url = models.URLField(blank=True)
    is_active = models.BooleanField("active", default=True, help_text="Retired exercises cannot be prescribed.")

    history = HistoricalRecords()
    objects = ExerciseQuerySet.as_manager()

    class Meta:
        ordering = ["ladder_rank", "name"]

    def __str__(self) -> str:
        return f"{self.ladder_rank}. {self.name}"

    def clean(self):
        errors = {}
        if not self.min_sets <= self.default_sets <= self.max_sets:
            errors["default_sets"] = "The default sets must lie within the allowed range."
        if not self.min_dose <= self.default_dose_low <= self.default_dose_high <= self.max_dose:
            errors["default_dose_low"] = "The default dose must lie within the allowed range, low before high."
        if self.load_unit == LoadUnit.NONE and self.max_load:
            errors["max_load"] = "An exercise without load has no maximum load."
        if errors:
            raise ValidationError(errors)

    def caution_for(self, cause: str | None) -> str:
        return self.cautions.get(cause, "") if cause else ""


class ProgramStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


class ProgramQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=ProgramStatus.ACTIVE)


class Program(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="programs")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="programs")
    source_assessment = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="programs")
    start_date = models.DateField(default=timezone.localdate)
    weeks = models.PositiveSmallIntegerField(default=6, validators=[MinValueValidator(1), MaxValueValidator(52)])
    sessions_per_week = models.PositiveSmallIntegerField(default=3,
                                                         validators=[MinValueValidator(1), MaxValueValidator(14)])
    goals = models.TextField(blank=True)
    plan_weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=[(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"),
                                        (4, "Friday"), (5, "Saturday"), (6, "Sunday")],
        help_text="The patient's day for the weekly plan e-mail; blank: the start date's weekday.",
    )
    status = models.CharField(max_length=10, choices=ProgramStatus.choices, default=ProgramStatus.DRAFT)
    surgeon_clearance = models.BooleanField(
        default=False, help_text="Surgeon's clearance for loaded or resisted work is documented."
    )
    surgeon_clearance_note = models.CharField(max_length=300, blank=True)
    activated_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the program last became the patient's active one.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"Program from {self.start_date:%Y-%m-%d} ({self.get_status_display().lower()})"

    def clean(self):
        if self.patient_id and self.patient.is_archived and self.status in (ProgramStatus.DRAFT, ProgramStatus.ACTIVE):
            raise ValidationError({"patient": "This patient is archived: restore the record first."})
        if self.source_assessment_id and self.patient_id and self.source_assessment.patient_id != self.patient_id:
            raise ValidationError({"source_assessment": "This assessment is another patient's."})
        if self.surgeon_clearance and not self.surgeon_clearance_note.strip():
            raise ValidationError({"surgeon_clearance_note": "Say who cleared it and when."})

    @property
    def current_version(self) -> ProgramVersion | None:
        return self.versions.order_by("-number").first()


class ProgramItem(models.Model):
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="items")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=1)
    sets = models.PositiveSmallIntegerField()
    dose_low = models.PositiveSmallIntegerField(help_text="Repetitions, seconds, steps or minutes (low end).")
    dose_high = models.PositiveSmallIntegerField(help_text="High end of the range (the same as low for a fixed dose).")
    load = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    side = models.CharField(max_length=5, choices=[("both", "Both"), ("left", "Left"), ("right", "Right")],
                            default="both")
    notes = models.CharField(max_length=300, blank=True)
    caution_acknowledged = models.BooleanField(
        default=False, help_text="The therapist has read the caution this exercise carries for the referral."
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.exercise.name}: {self.dose_text}"

    def clean(self):
        if self.exercise_id:
            problems = dosing.dose_problems(dosing.limits_of(self.exercise), sets=self.sets, dose_low=self.dose_low,
                                            dose_high=self.dose_high, load=self.load)
            if problems:
                raise ValidationError(problems)

    @property
    def dose_text(self) -> str:
        return dosing.dose_text(dosing.limits_of(self.exercise), sets=self.sets, dose_low=self.dose_low,
                                dose_high=self.dose_high, load=self.load, side=self.side)


class ProgramVersion(models.Model):
    """An immutable record of a program's items at one moment."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveSmallIntegerField()
    items = models.JSONField()
    changes = models.JSONField(default=list, help_text="What changed against the previous version, in words.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "number"]
        constraints = [models.UniqueConstraint(fields=["program", "number"], name="one_version_number_per_program")]

    def __str__(self) -> str:
        return f"version {self.number}"


class PatientLink(models.Model):
    """A patient's signed link to their current program; expires and can be revoked."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="program_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Link from {self.created_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
