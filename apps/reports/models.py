"""Pre-aggregated figures: what the dashboard reads instead of the records for days already closed.

A year of a full-size clinic takes several seconds to count from the records (bench/reports.py),
so a beat task (``apps.reports.tasks``) stores, for every closed day, the day's counts per
therapist and referral cause, one row per finished episode with its scores, and a snapshot of
the plans overdue for a report. ``apps.reports.figures`` adds the stored days to the days
counted live (those after the last stored day), and ignores what was stored under other rules
(another clinic zone or late-cancellation window, or an older definition of a figure). Nothing
here is a record of its own: every row can be rebuilt from the records at any time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apps.assessments.models import MeasureKind
from apps.patients.models import Patient
from apps.scheduling.models import Therapist
from apps.visits.models import PlanOfCare

ANY_CAUSE = ""  # a row counting every patient, whatever their referral cause


class FiguresRefresh(models.Model):
    """The one row saying how far the stored figures reach, and under which rules they were counted."""

    through = models.DateField(null=True, help_text="The last day stored (clinic time); later days are counted live.")
    refreshed_at = models.DateTimeField(null=True)
    full_refresh_at = models.DateTimeField(null=True, help_text="When every stored day was last recounted.")
    zone = models.CharField(max_length=64, blank=True, help_text="The clinic zone the days were cut in.")
    late_cancellation_hours = models.PositiveSmallIntegerField(null=True)
    version = models.PositiveSmallIntegerField(default=0, help_text="The definitions' version the rows follow.")
    due_as_of = models.DateField(null=True, help_text="The day the overdue snapshot was taken (clinic time).")
    due_taken_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "figures refresh"

    def __str__(self):
        return f"figures stored through {self.through or 'nothing'}"


class DayFigures(models.Model):
    """One closed day's counts for one therapist's appointments and programs, for patients with a cause.

    ``cause`` is blank for every patient; a patient referred for two causes counts in both rows.
    """

    day = models.DateField()
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="+")
    cause = models.CharField(max_length=40, blank=True)
    visits = models.PositiveIntegerField(default=0)
    scheduled = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)
    late_cancellations = models.PositiveIntegerField(default=0)
    rebooked_visits = models.PositiveIntegerField(default=0)
    booked_seconds = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "therapist", "cause"], name="reports_one_row_a_day")]
        indexes = [models.Index(fields=["cause", "day"], name="reports_day_cause")]

    def __str__(self):
        return f"{self.day} {self.therapist_id} {self.cause or 'any cause'}"


class FinishedEpisode(models.Model):
    """A discharged plan of care: its completed visits and the dates and people it is filtered by."""

    plan = models.OneToOneField(PlanOfCare, on_delete=models.CASCADE, primary_key=True, related_name="+")
    discharged_on = models.DateField(db_index=True)
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    cause = models.CharField(max_length=40, blank=True, help_text="The plan's referral cause; blank without one.")
    visits = models.PositiveIntegerField()

    def __str__(self):
        return f"episode of plan {self.plan_id}"


class EpisodeScore(models.Model):
    """A measure over a finished episode: how many complete scores, and the change first to last."""

    episode = models.ForeignKey(FinishedEpisode, on_delete=models.CASCADE, related_name="scores")
    measure = models.CharField(max_length=10, choices=MeasureKind.choices)
    scores = models.PositiveIntegerField()
    delta = models.DecimalField(max_digits=6, decimal_places=1, null=True, help_text="Blank with one score only.")
    reached_mcid = models.BooleanField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["episode", "measure"], name="reports_one_score_a_measure")]

    def __str__(self):
        return f"{self.measure} of plan {self.episode_id}"


class OverduePlan(models.Model):
    """An open plan whose progress report or re-certification was overdue when the snapshot was taken."""

    plan = models.OneToOneField(PlanOfCare, on_delete=models.CASCADE, primary_key=True, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    therapist = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    progress_report = models.BooleanField()
    recertification = models.BooleanField()

    def __str__(self):
        return f"plan {self.plan_id} overdue"
