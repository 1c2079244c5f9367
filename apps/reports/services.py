"""Writing the stored figures: the one action, ``refresh_figures``, run by beat and by ``manage.py refresh_figures``.

Each run recounts the recent closed days (``RECENT_DAYS``, where late entries land: a no-show
marked the next morning, a charge signed days later, a score entered after the discharge) and
any day since the last run, and retakes the snapshot of overdue plans; a full run (nightly, or
when the rules the rows were counted under changed) recounts every day. Rows are counted with
the same expressions as the live figures (``apps.reports.figures``), inside one transaction:
a reader sees the rows before the run or after it, never half of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.ops.policy import clinic_policy
from apps.patients.models import Referral
from apps.patients.vocabulary import REFERRAL_CAUSES
from apps.reports import figures
from apps.reports.models import (
    ANY_CAUSE,
    DayFigures,
    EpisodeScore,
    FiguresRefresh,
    FinishedEpisode,
    OverduePlan,
)
from apps.scheduling.models import Appointment
from apps.visits.models import PlanOfCare, PlanStatus
from hipclinic.zones import clinic_zone, local_date, local_day_bounds

log = logging.getLogger("hipclinic.reports")

RECENT_DAYS = 35  # recounted by every run; older days by the nightly full run
WINDOW_DAYS = 60  # days counted per query: a window's rows are read whole
BATCH = 2000


@dataclass(frozen=True)
class Refreshed:
    first: date | None  # the first day recounted; None when nothing was stored (no closed day yet)
    through: date
    full: bool
    days: int  # day rows written
    episodes: int
    overdue: int

    @property
    def summary(self) -> str:
        what = "every day" if self.full else f"{self.first} to {self.through}"
        return (f"figures stored through {self.through} ({what}): {self.days} day rows, {self.episodes} finished "
                f"episodes, {self.overdue} overdue plans")


def refresh_figures(*, full: bool = False, now: datetime | None = None) -> Refreshed:
    """Recount the stored figures up to yesterday (clinic time): the recent days, or all when ``full``
    or when the stored rows followed other rules. Runs one at a time (the refresh row is locked)."""
    now = now or timezone.now()
    zone = clinic_zone()
    today = local_date(zone, now)
    through = today - timedelta(days=1)
    hours = clinic_policy().late_cancellation_hours
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Compiling each of these short aggregates with PostgreSQL's JIT cost more than running them
            # (0.4 s a query, measured at full size); for this transaction only.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        state, _ = FiguresRefresh.objects.select_for_update().get_or_create(pk=figures.FIGURES_REFRESH_ID)
        same_rules = (state.through is not None and state.version == figures.FIGURES_VERSION
                      and state.zone == zone.key and state.late_cancellation_hours == hours)
        full = full or not same_rules
        first = None if full else min(state.through + timedelta(days=1), through - timedelta(days=RECENT_DAYS - 1))
        days = _store_days(first, through)
        episodes = _store_episodes(first, through)
        overdue = _store_overdue(now)
        state.through, state.refreshed_at = through, now
        if full:
            state.full_refresh_at = now
        state.zone, state.late_cancellation_hours, state.version = zone.key, hours, figures.FIGURES_VERSION
        state.due_as_of, state.due_taken_at = today, now
        state.save()
    done = Refreshed(first=first, through=through, full=full, days=days, episodes=episodes, overdue=overdue)
    log.info("%s", done.summary)
    return done


def _store_days(first: date | None, through: date) -> int:
    """Recount the day rows from ``first`` (None: every day) to ``through``: a query per cause and window."""
    stale = DayFigures.objects.all() if first is None else DayFigures.objects.filter(day__gte=first)
    stale.delete()
    zone = clinic_zone()
    if first is None:
        oldest = Appointment.objects.order_by("start").values_list("start", flat=True).first()
        if oldest is None:
            return 0
        first = local_date(zone, oldest)
    counts = figures.attendance_counts()
    written = 0
    # Windows of days fetched whole (a server-side cursor makes PostgreSQL plan for the first rows: slower).
    window_start = first
    while window_start <= through:
        window_end = min(window_start + timedelta(days=WINDOW_DAYS - 1), through)
        appointments = Appointment.objects.filter(start__gte=local_day_bounds(window_start, zone)[0],
                                                  start__lt=local_day_bounds(window_end, zone)[1])
        for cause in [ANY_CAUSE, *REFERRAL_CAUSES]:
            chosen = appointments
            if cause:
                chosen = chosen.filter(Exists(Referral.objects.filter(patient=OuterRef("patient"), cause=cause)))
            rows = (chosen.annotate(day=TruncDate("start", tzinfo=zone)).order_by()
                    .values("day", "therapist_id").annotate(**counts))
            written += len(DayFigures.objects.bulk_create(
                [DayFigures(cause=cause, **{**row, "booked_seconds": figures.seconds(row["booked_seconds"])})
                 for row in rows], batch_size=BATCH))
        window_start = window_end + timedelta(days=1)
    return written


def _store_episodes(first: date | None, through: date) -> int:
    """Recount the finished episodes discharged from ``first`` (None: ever) to ``through``, with their scores."""
    stale = FinishedEpisode.objects.all() if first is None else FinishedEpisode.objects.filter(discharged_on__gte=first)
    stale.delete()
    plans = PlanOfCare.objects.filter(status=PlanStatus.DISCHARGED, discharged_on__lte=through)
    if first is not None:
        plans = plans.filter(discharged_on__gte=first)
    written = 0
    episodes, scores = [], []
    for row in figures.episode_rows(plans).iterator(chunk_size=BATCH):
        episodes.append(FinishedEpisode(plan_id=row["pk"], discharged_on=row["discharged_on"],
                                        therapist_id=row["therapist_id"], cause=row["cause"] or "",
                                        visits=row["episode_visits"]))
        scores += [EpisodeScore(episode_id=row["pk"], measure=measure, scores=row[f"{measure}_n"],
                                delta=None if delta is None else Decimal(repr(delta)).quantize(Decimal("0.1")),
                                reached_mcid=reached)
                   for measure, (delta, reached) in figures.measure_changes(row).items()]
        if len(episodes) >= BATCH:
            written += _write_episodes(episodes, scores)
            episodes, scores = [], []
    return written + _write_episodes(episodes, scores)


def _write_episodes(episodes: list, scores: list) -> int:
    FinishedEpisode.objects.bulk_create(episodes)
    EpisodeScore.objects.bulk_create(scores, batch_size=BATCH)
    return len(episodes)


def _store_overdue(now: datetime) -> int:
    """Retake the snapshot of open plans overdue today for a progress report or a re-certification."""
    OverduePlan.objects.all().delete()
    plans = PlanOfCare.objects.filter(status=PlanStatus.OPEN)
    overdue = figures.overdue_plans(plans, now=now)
    chosen = overdue["progress_report"] | overdue["recertification"]
    rows = [OverduePlan(plan_id=plan_id, patient_id=patient_id, therapist_id=therapist_id,
                        progress_report=plan_id in overdue["progress_report"],
                        recertification=plan_id in overdue["recertification"])
            for plan_id, patient_id, therapist_id in plans.filter(pk__in=chosen).values_list(
                "pk", "patient_id", "therapist_id")]
    OverduePlan.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)
