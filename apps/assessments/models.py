"""Assessments (per-side hip-flexor tests) and outcome measures.

Values computed from the findings (classification, reasons, suggested rung, warnings,
symmetry, scores) are stored so lists and charts read them without recomputing. The one
write path, ``services.record_assessment``, saves an assessment with its side findings and
computes them once.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.assessments import classification
from apps.patients.models import Patient
from apps.scheduling.models import Appointment


class Complaint(models.TextChoices):
    # clinical-reference.md section 1, "Presenting complaints".
    GAIT_POSTURE = "gait_posture", "Change in gait or posture"
    STIFF_KNEE_GAIT = "stiff_knee_gait", "Stiff-knee gait"
    STAIRS = "stairs", "Difficulty climbing stairs"
    KNEE_PAIN = "knee_pain", "Knee pain"
    HIP_PAIN = "hip_pain", "Hip pain"
    LOW_BACK_PAIN = "low_back_pain", "Low back pain"
    PELVIC_TILT = "pelvic_tilt", "Pelvic tilt or posture"


class Classification(models.TextChoices):
    WEAK = "weak", "Weak"
    TIGHT = "tight", "Tight"
    BOTH = "both", "Weak and tight"
    NEITHER = "neither", "Neither"


class Side(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"


MMT_GRADE_CHOICES = [(grade, f"{grade}/5") for grade in classification.MMT_GRADES]
NPRS = [MinValueValidator(0), MaxValueValidator(10)]


def validate_complaints(value) -> None:
    if not isinstance(value, list) or any(item not in Complaint.values for item in value):
        raise ValidationError("Choose complaints from the checklist.", code="invalid_complaint")


class AssessmentQuerySet(models.QuerySet):
    def for_patient(self, patient):
        return self.filter(patient=patient).order_by("assessed_on", "id")


class Assessment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="assessment",
        help_text="The assessment or re-assessment appointment, where there is one.",
    )
    assessed_on = models.DateField(default=timezone.localdate)
    complaints = models.JSONField(default=list, blank=True, validators=[validate_complaints])
    clinical_history = models.TextField("history", blank=True)
    pain_now = models.PositiveSmallIntegerField("pain now (0-10)", null=True, blank=True, validators=NPRS)
    pain_worst_week = models.PositiveSmallIntegerField(
        "worst pain in the last week (0-10)", null=True, blank=True, validators=NPRS
    )
    surgeon_clearance = models.BooleanField(
        default=False, help_text="Documented surgeon clearance for loaded or resisted work (transpsoas surgery)."
    )

    # Computed from the side findings by services.record_assessment, once per save.
    classification = models.CharField(max_length=10, choices=Classification.choices, blank=True, editable=False)
    classification_reasons = models.JSONField(default=list, blank=True, editable=False)
    warnings = models.JSONField(default=list, blank=True, editable=False)
    limb_symmetry_index = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True, editable=False)
    suggested_rung = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    rung_reasons = models.JSONField(default=list, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-assessed_on", "-id"]
        indexes = [models.Index(fields=["patient", "assessed_on"])]

    def __str__(self) -> str:
        return f"Assessment {self.assessed_on:%Y-%m-%d}"

    def clean(self):
        if self.patient_id and self.patient.is_archived:
            raise ValidationError({"patient": "This patient is archived: restore the record first."})
        if self.appointment_id and self.appointment.patient_id != self.patient_id:
            raise ValidationError({"appointment": "That appointment belongs to another patient."})
        if self.assessed_on and self.assessed_on > timezone.localdate():
            raise ValidationError({"assessed_on": "An assessment cannot be dated in the future."})


# The findings a therapist enters for one side, in the order forms and the API show them.
SIDE_FINDING_FIELDS = ["side", "mmt_grade", "pain_on_resisted_flexion", "knee_hold_seconds", "dynamometry_trial_1",
                       "dynamometry_trial_2", "dynamometry_trial_3", "thomas_iliopsoas", "thomas_rectus_femoris",
                       "thomas_tfl", "aslr"]


class SideFindings(models.Model):
    """The per-side tests of one assessment (clinical-reference.md section 2)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="sides")
    side = models.CharField(max_length=5, choices=Side.choices)
    mmt_grade = models.CharField("manual muscle test (hip flexion)", max_length=2, choices=MMT_GRADE_CHOICES,
                                 blank=True)
    pain_on_resisted_flexion = models.BooleanField(
        "painful on resisted hip flexion", null=True, blank=True,
        help_text="Painless weakness is itself a warning sign.",
    )
    knee_hold_seconds = models.DecimalField(
        "knee-to-chest hold (s)", max_digits=5, decimal_places=1, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(600)],
    )
    dynamometry_trial_1 = models.DecimalField("trial 1 (N)", max_digits=6, decimal_places=1, null=True, blank=True,
                                              validators=[MinValueValidator(0), MaxValueValidator(2000)])
    dynamometry_trial_2 = models.DecimalField("trial 2 (N)", max_digits=6, decimal_places=1, null=True, blank=True,
                                              validators=[MinValueValidator(0), MaxValueValidator(2000)])
    dynamometry_trial_3 = models.DecimalField("trial 3 (N)", max_digits=6, decimal_places=1, null=True, blank=True,
                                              validators=[MinValueValidator(0), MaxValueValidator(2000)])
    thomas_iliopsoas = models.BooleanField("Thomas test: iliopsoas (thigh lifts)", null=True, blank=True)
    thomas_rectus_femoris = models.BooleanField("Thomas test: rectus femoris (knee stays straight)", null=True,
                                                blank=True)
    thomas_tfl = models.BooleanField("Thomas test: TFL (leg drifts out)", null=True, blank=True)
    aslr = models.PositiveSmallIntegerField("active straight leg raise (0-5)", null=True, blank=True,
                                            validators=[MaxValueValidator(5)])

    # Computed.
    best_newtons = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True, editable=False)
    knee_hold_pass = models.BooleanField(null=True, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["assessment", "side"]
        verbose_name_plural = "side findings"
        constraints = [models.UniqueConstraint(fields=["assessment", "side"], name="one_findings_row_per_side")]

    def __str__(self) -> str:
        return f"{self.get_side_display()} side"

    def clean(self):
        if self.dynamometry_trial_3 is not None and None in (self.dynamometry_trial_1, self.dynamometry_trial_2):
            raise ValidationError({"dynamometry_trial_3": "Enter trials in order: 1, then 2, then 3."})
        if self.dynamometry_trial_2 is not None and self.dynamometry_trial_1 is None:
            raise ValidationError({"dynamometry_trial_2": "Enter trials in order: 1, then 2, then 3."})

    @property
    def trials(self) -> list[float]:
        return [float(t) for t in (self.dynamometry_trial_1, self.dynamometry_trial_2, self.dynamometry_trial_3)
                if t is not None]


class MeasureKind(models.TextChoices):
    NPRS = "nprs", "Pain (NPRS)"
    LEFS = "lefs", "Lower Extremity Functional Scale"
    ODI = "odi", "Oswestry Disability Index"
    PSFS = "psfs", "Patient-Specific Functional Scale"


class OutcomeSource(models.TextChoices):
    CLINICIAN = "clinician", "Recorded by the therapist"
    PATIENT = "patient", "Patient-reported"


class OutcomeMeasure(models.Model):
    """One dated questionnaire or scale, scored by apps/assessments/scoring."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="outcome_measures")
    assessment = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="outcome_measures")
    measure = models.CharField(max_length=5, choices=MeasureKind.choices)
    recorded_on = models.DateField(default=timezone.localdate)
    # NPRS: [score]; LEFS: 20 item scores (null = missing); ODI: 10 section scores (or
    # lists of ticked boxes); PSFS: [[activity, score], ...].
    items = models.JSONField(default=list)
    source = models.CharField(max_length=10, choices=OutcomeSource.choices, default=OutcomeSource.CLINICIAN)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    # Computed by the scoring module.
    score = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True, editable=False)
    complete = models.BooleanField(default=False, editable=False)
    missing_items = models.PositiveSmallIntegerField(default=0, editable=False)
    score_note = models.CharField(max_length=200, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "measure", "recorded_on", "id"]
        indexes = [models.Index(fields=["patient", "measure", "recorded_on"])]

    def __str__(self) -> str:
        return f"{self.get_measure_display()} {self.recorded_on:%Y-%m-%d}"

    def save(self, *args, **kwargs):
        self.apply_score()  # a questionnaire with items missing is stored as incomplete, unscored
        super().save(*args, **kwargs)

    def clean(self):
        from apps.assessments.scoring import ScoringError

        if self.patient_id and self.patient.is_archived:
            raise ValidationError({"patient": "This patient is archived: restore the record first."})
        if self.assessment_id and self.assessment.patient_id != self.patient_id:
            raise ValidationError({"assessment": "That assessment belongs to another patient."})
        if self.recorded_on and self.recorded_on > timezone.localdate():
            raise ValidationError({"recorded_on": "A score cannot be dated in the future."})
        try:
            self.apply_score()
        except ScoringError as error:
            raise ValidationError({"items": str(error)}) from None

    def apply_score(self) -> None:
        from apps.assessments import scoring

        result = scoring.score(self.measure, self.items)
        self.score = None if result.value is None else round(Decimal(str(result.value)), 1)
        self.complete, self.missing_items, self.score_note = result.complete, result.missing, result.note


class IntakeInvitation(models.Model):
    """A signed link letting a patient fill in NPRS, LEFS and PSFS before the first assessment."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="intake_invitations")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Intake invitation {self.created_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and self.revoked_at is None and self.expires_at > timezone.now()
