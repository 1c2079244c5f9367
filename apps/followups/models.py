"""Follow-ups planned from a program, the patient's session logs, and progression proposals."""

from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.ops.policy import clinic_policy
from apps.prescriptions.models import Exercise, Program, ProgramItem
from apps.scheduling.models import Appointment


class FollowUpStatus(models.TextChoices):
    TO_BOOK = "to_book", "To book"
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class FollowUpQuerySet(models.QuerySet):
    def to_book(self):
        return self.filter(status=FollowUpStatus.TO_BOOK)

    def overdue(self, today=None):
        """Unbooked a week after they were due: flagged for the front desk."""
        today = today or timezone.localdate()
        return self.to_book().filter(due_date__lt=today - timedelta(days=clinic_policy().followup_flag_after_days))


class FollowUp(models.Model):
    """A re-assessment to book, planned when a program is activated (weeks 2, 4 and 6)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="followups")
    week = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    status = models.CharField(max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.TO_BOOK)
    appointment = models.OneToOneField(Appointment, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="followup")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FollowUpQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [models.UniqueConstraint(fields=["program", "week"], name="one_followup_per_program_week")]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return f"Week {self.week} re-assessment due {self.due_date:%Y-%m-%d}"

    @property
    def is_overdue(self) -> bool:
        return (self.status == FollowUpStatus.TO_BOOK
                and self.due_date < timezone.localdate() - timedelta(days=clinic_policy().followup_flag_after_days))


class Effort(models.TextChoices):
    TOO_EASY = "too_easy", "Too easy"
    ABOUT_RIGHT = "about_right", "About right"
    TOO_HARD = "too_hard", "Too hard"


class LogSource(models.TextChoices):
    PATIENT = "patient", "Patient, at home"
    CLINIC = "clinic", "In clinic"


class SessionLog(models.Model):
    """One exercise session the patient did (or did in clinic)."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="session_logs")
    session_date = models.DateField()
    effort = models.CharField(max_length=12, choices=Effort.choices, blank=True)
    note = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=8, choices=LogSource.choices, default=LogSource.PATIENT)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+")
    # The form's one-time key: a double-submitted form saves once.
    submission_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["program", "session_date", "id"]
        indexes = [models.Index(fields=["program", "session_date"])]

    def __str__(self) -> str:
        return f"Session {self.session_date:%Y-%m-%d}"


class NextMorning(models.TextChoices):
    BETTER = "better", "Better"
    SAME = "same", "The same"
    WORSE = "worse", "Worse"


class SessionLogItem(models.Model):
    log = models.ForeignKey(SessionLog, on_delete=models.CASCADE, related_name="items")
    item = models.ForeignKey(ProgramItem, null=True, on_delete=models.SET_NULL, related_name="logs")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    sets_done = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    last_set_amount = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(600)],
        help_text="Repetitions on the last set, or seconds held, or steps.",
    )
    pain_during = models.PositiveSmallIntegerField(null=True, blank=True,
                                                   validators=[MinValueValidator(0), MaxValueValidator(10)])
    next_morning = models.CharField(max_length=6, choices=NextMorning.choices, blank=True)

    class Meta:
        ordering = ["log", "id"]

    def __str__(self) -> str:
        return f"{self.exercise.name}: {self.sets_done} sets"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPLIED = "applied", "Applied"
    DISMISSED = "dismissed", "Dismissed"


class ProgressionProposal(models.Model):
    """What the progression engine proposes for one item, with its reason in words."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="proposals")
    item = models.ForeignKey(ProgramItem, null=True, on_delete=models.SET_NULL, related_name="proposals")
    action = models.CharField(max_length=8, choices=[("progress", "Progress"), ("regress", "Regress")])
    current = models.JSONField(help_text="The dose when proposed.")
    proposed = models.JSONField(help_text="The dose proposed (and exercise, when moving rung).")
    new_exercise = models.ForeignKey(Exercise, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["item"], condition=Q(status="pending"),
                                    name="one_pending_proposal_per_item"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.reason}"
