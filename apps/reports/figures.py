"""The clinic's numbers for a date range: set-based, a fixed number of queries whatever the data.

Every figure is an aggregate the database computes (counts, sums, ``Exists`` and ``Subquery``
per row), except where the rule lives in Python already: the MCID of a change
(``apps.assessments.scoring.change``) and the plan-of-care clock (``apps.visits.selectors``),
which read the rows of one query each. A range is whole days in the clinic's time zone, both
ends included. ``DEFINITIONS`` says in one line what each figure counts; the API, the README
and the page show the same words.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from apps.accounts.roles import GROUP_NAMES, Role
from apps.assessments.models import Assessment, MeasureKind, OutcomeMeasure
from apps.assessments.scoring.change import change
from apps.billing.models import Charge, ChargeLine, ChargeStatus, Invoice, InvoiceStatus, Payment
from apps.followups.models import SessionLog
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient, Referral
from apps.patients.vocabulary import REFERRAL_CAUSES
from apps.prescriptions.models import Program, ProgramStatus
from apps.reports.models import ANY_CAUSE, DayFigures, EpisodeScore, FiguresRefresh, FinishedEpisode, OverduePlan
from apps.scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    TimeOff,
    WorkingHours,
)
from apps.visits.models import PlanOfCare, PlanStatus
from apps.visits.selectors import due_for_plans, unsigned_notes
from hipclinic.zones import clinic_zone, local_date, local_day_bounds

MAX_RANGE_DAYS = 3 * 366
# The window whose silence flags an active program (the issue: "no log for 7 days").
QUIET_PROGRAM_DAYS = 7
# Programs that count for adherence: drafts prescribe nothing; a stopped program's planned weeks are not owed.
ADHERENCE_STATUSES = (ProgramStatus.ACTIVE, ProgramStatus.PAUSED, ProgramStatus.COMPLETED)
# Appointments whose outcome is known: the denominator of attendance ("scheduled").
CLOSED_STATUSES = (AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
NO_CAUSE = "none"  # outcomes of a plan with no referral linked
# The longest a program can run (its validators): one started earlier ends before any day asked about.
LONGEST_PROGRAM_WEEKS = max(v.limit_value for v in Program._meta.get_field("weeks").validators
                            if isinstance(v, MaxValueValidator))
# The version of the definitions the stored rows (apps.reports.models) follow: raise it when a change
# to a definition makes stored rows wrong, and they are ignored until the beat task recounts them all.
FIGURES_VERSION = 1
FIGURES_REFRESH_ID = 1

DEFINITIONS: dict[str, str] = {
    "new_referrals": "Referrals dated in the range.",
    "first_evaluations": "Patients whose first assessment ever is dated in the range.",
    "conversion": "Referrals dated in the range whose patient was assessed between the referral date and the "
                  "range's end, divided by the referrals dated in the range.",
    "visits": "Appointments starting in the range that were completed.",
    "scheduled": "Appointments starting in the range whose outcome is known: completed, cancelled or no-show "
                 "(still booked or checked in are not counted).",
    "cancellation_rate": "Cancelled appointments divided by scheduled ones.",
    "no_show_rate": "No-show appointments divided by scheduled ones.",
    "cancellation_and_no_show_rate": "Cancelled plus no-show appointments divided by scheduled ones.",
    "late_cancellations": "Cancelled appointments starting in the range whose cancellation was recorded less than "
                          "the clinic's late-cancellation window (hours, clinic policy) before their start.",
    "visits_per_finished_episode": "For plans of care discharged in the range: their patients' completed visits "
                                   "from the plan's start day to its discharge day, divided by the number of plans.",
    "rebook_rate": "Completed visits in the range after which the patient had a later appointment already booked "
                   "(made before the visit ended), divided by completed visits.",
    "utilisation": "Minutes of booked, checked-in and completed appointments starting in the range, divided by the "
                   "working minutes of the weekly rota over the range's days less time off inside them.",
    "adherence": "Sessions logged on days in the range divided by sessions prescribed in the range "
                 "(sessions per week times the days the program's planned weeks overlap the range, over 7), for "
                 "programs that are active, paused or completed.",
    "quiet_programs_share": "Active programs whose planned weeks include the range's last day with no session "
                            "logged in the range's last 7 days, divided by those active programs.",
    "outcomes": "Per measure and per referral cause, patients whose plan of care was discharged in the range: "
                "the first and last complete score from the referral (or the plan's start) to the discharge; "
                "share reaching the MCID and median change among those with two scores; those with one score "
                "are counted as without a follow-up score.",
    "charges_total": "Active (not void) charges with a date of service in the range, summed.",
    "units_per_visit": "Billing units on those charges divided by the number of charges (one per visit note).",
    "payments_total": "Payments received in the range, summed.",
    "outstanding_balance": "Invoices issued up to the range's end and not void, less payments received up to "
                           "the range's end.",
    "overdue_progress_reports": "Open plans of care whose progress report is overdue today (the plan-of-care clock).",
    "overdue_recertifications": "Open plans of care whose re-certification is overdue today (the plan-of-care "
                                "clock).",
    "unsigned_notes": "Visit notes still in draft past the clinic's unsigned-note limit, now.",
}


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    therapist_id: int | None
    cause: str | None

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        zone = clinic_zone()
        return local_day_bounds(self.start, zone)[0], local_day_bounds(self.end, zone)[1]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def validate(*, start, end, therapist=None, cause: str | None = None) -> Filters:
    """The filters, checked: a ValidationError with a message per field for anything unusable."""
    errors: dict[str, str] = {}
    if not isinstance(start, date):
        errors["start"] = "Enter the first day of the range (YYYY-MM-DD)."
    if not isinstance(end, date):
        errors["end"] = "Enter the last day of the range (YYYY-MM-DD)."
    if not errors:
        if end < start:
            errors["end"] = "The range must end on or after its first day."
        elif (end - start).days + 1 > MAX_RANGE_DAYS:
            errors["end"] = "Choose a range of at most three years."
    therapist_id = getattr(therapist, "pk", therapist)
    if therapist_id is not None:
        # A therapist: on the rota, or holding the role (a new therapist may have no hours yet).
        users = get_user_model().objects.filter(
            Q(therapist__isnull=False) | Q(groups__name=GROUP_NAMES[Role.THERAPIST]), pk=therapist_id)
        if not isinstance(therapist_id, int) or not users.exists():
            errors["therapist"] = "Choose a therapist of the clinic."
    if cause and cause not in REFERRAL_CAUSES:
        errors["cause"] = "Choose a referral cause from the list."
    if errors:
        raise ValidationError(errors)
    return Filters(start=start, end=end, therapist_id=therapist_id, cause=cause or None)


def summary(*, start: date, end: date, therapist=None, cause: str | None = None,
            now: datetime | None = None, stored: bool = True) -> dict:
    """Every figure of the range, filtered by therapist (a user id) and referral cause.

    Days up to the last one the beat task stored are read from ``apps.reports.models`` (when
    stored under today's rules and ``stored`` is not False); the others are counted from the
    records. ``stored_through`` says where the line fell (None: everything counted live).
    """
    filters = validate(start=start, end=end, therapist=therapist, cause=cause)
    now = now or timezone.now()
    state = usable_state() if stored else None
    through = state.through if state else None
    kept, live = split(filters, through)
    counts = add(stored_attendance(kept) if kept else {}, counted_attendance(live) if live else {})
    episode_counts, scores = finished_episodes(kept, live)
    return {
        "start": filters.start, "end": filters.end, "therapist": filters.therapist_id, "cause": filters.cause,
        "stored_through": kept.end if kept else None,
        "refreshed_at": state.refreshed_at if state and kept else None,
        **referrals(filters),
        **attendance(counts),
        **episodes(episode_counts),
        **utilisation(filters, booked_seconds=counts.get("booked_seconds", 0)),
        **adherence(filters),
        "outcomes": outcomes(scores),
        **billing(filters),
        **compliance(filters, now=now, state=state),
    }


def usable_state():
    """The refresh row when its stored rows follow today's rules, else None (every day counted live)."""
    state = FiguresRefresh.objects.filter(pk=FIGURES_REFRESH_ID).first()
    if (state is None or state.through is None or state.version != FIGURES_VERSION
            or state.zone != clinic_zone().key
            or state.late_cancellation_hours != clinic_policy().late_cancellation_hours):
        return None
    return state


def split(filters: Filters, through: date | None) -> tuple[Filters | None, Filters | None]:
    """(the days read from stored rows, the days counted live); either None when it holds no day."""
    if through is None or through < filters.start:
        return None, filters
    if through >= filters.end:
        return filters, None
    return replace(filters, end=through), replace(filters, start=through + timedelta(days=1))


def add(*parts: dict) -> dict:
    total = dict.fromkeys(ATTENDANCE_COUNTS, 0)
    for part in parts:
        for name, value in part.items():
            total[name] += value or 0
    return total


def rate(part, whole) -> float | None:
    """``part / whole`` to four places; None (not 0) when there is nothing to divide by."""
    return round(float(part) / float(whole), 4) if whole else None


# ---------------------------------------------------------------------------- the filters as querysets


def patients(filters: Filters) -> QuerySet:
    """The patients the filters allow: a therapist's are those with an appointment with them."""
    queryset = Patient.objects.all()
    if filters.therapist_id is not None:
        queryset = queryset.filter(Exists(Appointment.objects.filter(
            patient=OuterRef("pk"), therapist__user_id=filters.therapist_id)))
    if filters.cause:
        queryset = queryset.filter(Exists(Referral.objects.filter(patient=OuterRef("pk"), cause=filters.cause)))
    return queryset


def _of_patients(queryset: QuerySet, filters: Filters, field: str = "patient") -> QuerySet:
    """``queryset`` narrowed to the filters' patients (no narrowing, no subquery, without filters)."""
    if filters.therapist_id is None and not filters.cause:
        return queryset
    return queryset.filter(**{f"{field}__in": patients(filters).values("pk")})


def appointments(filters: Filters) -> QuerySet:
    """Appointments starting in the range: a therapist's own, of patients with the cause."""
    start, end = filters.bounds
    queryset = Appointment.objects.filter(start__gte=start, start__lt=end)
    if filters.therapist_id is not None:
        queryset = queryset.filter(therapist__user_id=filters.therapist_id)
    if filters.cause:
        queryset = queryset.filter(patient__in=patients(Filters(filters.start, filters.end, None, filters.cause))
                                   .values("pk"))
    return queryset


# ---------------------------------------------------------------------------- the figures


def referrals(filters: Filters) -> dict:
    in_range = _of_patients(Referral.objects.filter(referral_date__gte=filters.start, referral_date__lte=filters.end),
                            filters)
    if filters.cause:
        in_range = in_range.filter(cause=filters.cause)
    assessed = Assessment.objects.filter(patient=OuterRef("patient"), assessed_on__gte=OuterRef("referral_date"),
                                         assessed_on__lte=filters.end)
    counts = in_range.aggregate(referred=Count("pk"), converted=Count("pk", filter=Q(Exists(assessed))))
    first = (_of_patients(Patient.objects.all(), filters, field="pk").annotate(first=Min("assessments__assessed_on"))
             .filter(first__gte=filters.start, first__lte=filters.end).count())
    return {"new_referrals": counts["referred"], "first_evaluations": first,
            "conversion": rate(counts["converted"], counts["referred"])}


def attendance_counts() -> dict:
    """The attendance counts as aggregates of ``appointments()`` rows: a range's totals, or one per
    day and therapist when grouped (the stored rows are these, so both count the same things)."""
    hours = clinic_policy().late_cancellation_hours
    late = AppointmentStatusChange.objects.filter(
        appointment=OuterRef("pk"), to_status=AppointmentStatus.CANCELLED,
        changed_at__gt=ExpressionWrapper(OuterRef("start") - Value(timedelta(hours=hours)),
                                         output_field=DateTimeField()))
    later = Appointment.objects.filter(patient=OuterRef("patient"), start__gt=OuterRef("start"),
                                       created_at__lte=OuterRef("end")).exclude(pk=OuterRef("pk"))
    completed = Q(status=AppointmentStatus.COMPLETED)
    cancelled = Q(status=AppointmentStatus.CANCELLED)
    return {
        "visits": Count("pk", filter=completed),
        "scheduled": Count("pk", filter=Q(status__in=CLOSED_STATUSES)),
        "cancelled": Count("pk", filter=cancelled),
        "no_shows": Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
        "late_cancellations": Count("pk", filter=cancelled & Q(Exists(late))),
        "rebooked_visits": Count("pk", filter=completed & Q(Exists(later))),
        "booked_seconds": Sum(ExpressionWrapper(F("end") - F("start"), output_field=DurationField()),
                              filter=Q(status__in=ACTIVE_STATUSES)),
    }


ATTENDANCE_COUNTS = ("visits", "scheduled", "cancelled", "no_shows", "late_cancellations", "rebooked_visits",
                     "booked_seconds")


def seconds(value) -> int:
    """A summed duration (a timedelta, or None for no rows) as whole seconds."""
    return round(value.total_seconds()) if value else 0


def counted_attendance(filters: Filters) -> dict:
    counts = appointments(filters).aggregate(**attendance_counts())
    return {**counts, "booked_seconds": seconds(counts["booked_seconds"])}


def stored_attendance(filters: Filters) -> dict:
    rows = DayFigures.objects.filter(day__gte=filters.start, day__lte=filters.end, cause=filters.cause or ANY_CAUSE)
    if filters.therapist_id is not None:
        rows = rows.filter(therapist__user_id=filters.therapist_id)
    return rows.aggregate(**{name: Sum(name) for name in ATTENDANCE_COUNTS})


def attendance(counts: dict) -> dict:
    scheduled, cancelled, no_shows = counts["scheduled"], counts["cancelled"], counts["no_shows"]
    return {
        "visits": counts["visits"], "scheduled": scheduled, "cancelled": cancelled, "no_shows": no_shows,
        "cancellation_rate": rate(cancelled, scheduled), "no_show_rate": rate(no_shows, scheduled),
        "cancellation_and_no_show_rate": rate(cancelled + no_shows, scheduled),
        "late_cancellations": counts["late_cancellations"],
        "late_cancellation_hours": clinic_policy().late_cancellation_hours,
        "rebooked_visits": counts["rebooked_visits"], "rebook_rate": rate(counts["rebooked_visits"], counts["visits"]),
    }


def discharged_plans(filters: Filters) -> QuerySet:
    queryset = PlanOfCare.objects.filter(status=PlanStatus.DISCHARGED, discharged_on__gte=filters.start,
                                         discharged_on__lte=filters.end)
    if filters.therapist_id is not None:
        queryset = queryset.filter(therapist_id=filters.therapist_id)
    if filters.cause:
        queryset = queryset.filter(referral__cause=filters.cause)
    return queryset


def episode_rows(plans: QuerySet) -> QuerySet:
    """Discharged plans as rows: ``pk``, ``discharged_on``, ``therapist_id``, ``cause`` (their referral's),
    ``episode_visits`` (their patient's completed visits from the start day to the discharge day) and,
    per measure, ``<measure>_n`` complete scores from the referral (or the start) to the discharge, with
    the ``_first`` and ``_last`` of them. One query, whatever the number of plans."""
    visits = (Appointment.objects.filter(patient=OuterRef("patient"), status=AppointmentStatus.COMPLETED)
              .annotate(day=TruncDate("start", tzinfo=clinic_zone()))
              .filter(day__gte=OuterRef("started_on"), day__lte=OuterRef("discharged_on"))
              .order_by().values("patient").annotate(n=Count("pk")).values("n"))
    annotations = {}
    score = DecimalField(max_digits=5, decimal_places=1)
    for measure in MeasureKind.values:
        scores = OutcomeMeasure.objects.filter(
            patient=OuterRef("patient"), measure=measure, complete=True, score__isnull=False,
            recorded_on__lte=OuterRef("discharged_on"),
            recorded_on__gte=Coalesce(OuterRef("referral__referral_date"), OuterRef("started_on")))
        annotations[f"{measure}_first"] = Subquery(scores.order_by("recorded_on", "id").values("score")[:1],
                                                   output_field=score)
        annotations[f"{measure}_last"] = Subquery(scores.order_by("-recorded_on", "-id").values("score")[:1],
                                                  output_field=score)
        annotations[f"{measure}_n"] = Coalesce(Subquery(scores.order_by().values("patient").annotate(
            n=Count("pk")).values("n"), output_field=IntegerField()), 0)
    return plans.annotate(
        cause=F("referral__cause"), episode_visits=Coalesce(Subquery(visits, output_field=IntegerField()), 0),
        **annotations,
    ).values("pk", "discharged_on", "therapist_id", "cause", "episode_visits", *annotations)


def measure_changes(row: dict) -> dict[str, tuple[float | None, bool | None]]:
    """{measure: (change first to last, whether it reached the MCID)} for each measure the episode has a
    score of; (None, None) when it has one score only (no follow-up)."""
    found = {}
    for measure in MeasureKind.values:
        if row[f"{measure}_n"] >= 2:
            moved = change(measure, row[f"{measure}_first"], row[f"{measure}_last"])
            found[measure] = (moved.delta, moved.mcid_reached)
        elif row[f"{measure}_n"] == 1:
            found[measure] = (None, None)
    return found


def finished_episodes(kept: Filters | None, live: Filters | None) -> tuple[dict, Counter]:
    """Plans discharged in the range: ({"plans": n, "visits": n}, a Counter of their scores' changes keyed
    (cause, measure, change, reached MCID)), from the stored episodes of ``kept`` days and the records
    of ``live`` ones. Stored changes come back as the floats ``change()`` gave."""
    plans = visits = 0
    scores = Counter()
    if kept is not None:
        episodes = FinishedEpisode.objects.filter(discharged_on__gte=kept.start, discharged_on__lte=kept.end)
        if kept.therapist_id is not None:
            episodes = episodes.filter(therapist_id=kept.therapist_id)
        if kept.cause:
            episodes = episodes.filter(cause=kept.cause)
        totals = episodes.aggregate(plans=Count("pk"), visits=Sum("visits"))
        plans, visits = totals["plans"], totals["visits"] or 0
        for cause, measure, delta, reached, n in (
                EpisodeScore.objects.filter(episode__in=episodes.values("pk")).order_by()
                .values_list("episode__cause", "measure", "delta", "reached_mcid").annotate(n=Count("pk"))):
            scores[(cause or NO_CAUSE, measure, None if delta is None else float(delta), reached)] += n
    if live is not None:
        for row in episode_rows(discharged_plans(live)):
            plans += 1
            visits += row["episode_visits"]
            for measure, (delta, reached) in measure_changes(row).items():
                scores[(row["cause"] or NO_CAUSE, measure, delta, reached)] += 1
    return {"plans": plans, "visits": visits}, scores


def episodes(counts: dict) -> dict:
    return {"finished_episodes": counts["plans"],
            "visits_per_finished_episode": rate(counts["visits"], counts["plans"])}


def _weekday_counts(first: date, last: date) -> list[int]:
    """How many Mondays, Tuesdays, ... the days from ``first`` to ``last`` hold."""
    days = (last - first).days + 1
    counts = [days // 7] * 7
    for offset in range(days % 7):
        counts[(first + timedelta(days=offset)).weekday()] += 1
    return counts


def _minutes(start: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds() / 60


def utilisation(filters: Filters, *, booked_seconds: int) -> dict:
    booked_minutes = booked_seconds / 60
    hours = WorkingHours.objects.filter(therapist__is_active=True)
    off = TimeOff.objects.filter(therapist__is_active=True)
    if filters.therapist_id is not None:
        hours = hours.filter(therapist__user_id=filters.therapist_id)
        off = off.filter(therapist__user_id=filters.therapist_id)
    blocks = defaultdict(list)  # therapist -> weekday -> [(start, end)]
    weekdays = _weekday_counts(filters.start, filters.end)
    working = 0.0
    for therapist_id, weekday, start, end in hours.values_list("therapist_id", "weekday", "start_time", "end_time"):
        blocks[therapist_id].append((weekday, start, end))
        working += _minutes(start, end) * weekdays[weekday]
    range_start, range_end = filters.bounds
    zone = clinic_zone()
    # Time off taken inside working hours; a handful of rows, each walked day by day (bounded by its length).
    for therapist_id, off_start, off_end in off.filter(start__lt=range_end, end__gt=range_start).values_list(
            "therapist_id", "start", "end"):
        off_start, off_end = max(off_start, range_start), min(off_end, range_end)
        day = off_start.astimezone(zone).date()
        while day <= off_end.astimezone(zone).date():
            for weekday, start, end in blocks[therapist_id]:
                if weekday == day.weekday():
                    block_start = datetime.combine(day, start, tzinfo=zone)
                    block_end = datetime.combine(day, end, tzinfo=zone)
                    overlap = (min(block_end, off_end) - max(block_start, off_start)).total_seconds() / 60
                    working -= max(overlap, 0)
            day += timedelta(days=1)
    return {"booked_minutes": round(booked_minutes), "working_minutes": round(working),
            "utilisation": rate(booked_minutes, working)}


def adherence(filters: Filters) -> dict:
    # A program started more than its longest possible length before the range ends before it.
    programs = _of_patients(Program.objects.filter(
        status__in=ADHERENCE_STATUSES, start_date__lte=filters.end,
        start_date__gt=filters.start - timedelta(weeks=LONGEST_PROGRAM_WEEKS)), filters)
    if filters.therapist_id is not None:
        programs = programs.filter(therapist_id=filters.therapist_id)
    quiet_from = max(filters.start, filters.end - timedelta(days=QUIET_PROGRAM_DAYS - 1))
    rows = programs.annotate(
        logged=Count("session_logs", filter=Q(session_logs__session_date__gte=filters.start,
                                               session_logs__session_date__lte=filters.end)),
        recent=Exists(SessionLog.objects.filter(program=OuterRef("pk"), session_date__gte=quiet_from,
                                                session_date__lte=filters.end)),
    ).values_list("start_date", "weeks", "sessions_per_week", "status", "logged", "recent")
    logged = prescribed = active = quiet = 0
    for start_date, weeks, per_week, status, count, recent in rows:
        last = start_date + timedelta(days=weeks * 7 - 1)
        overlap = (min(last, filters.end) - max(start_date, filters.start)).days + 1
        if overlap <= 0:
            continue
        logged += count
        prescribed += per_week * overlap / 7
        if status == ProgramStatus.ACTIVE and start_date <= filters.end <= last:
            active += 1
            quiet += not recent
    return {"sessions_logged": logged, "sessions_prescribed": round(prescribed, 1),
            "adherence": rate(logged, prescribed), "active_programs": active, "quiet_programs": quiet,
            "quiet_programs_share": rate(quiet, active)}


def outcomes(scores: Counter) -> dict:
    """{"by_measure": {measure: figures}, "by_cause": {cause: {measure: figures}}} from the counted changes."""
    by_measure: dict[str, Counter] = defaultdict(Counter)
    by_cause: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for (cause, measure, delta, reached), n in scores.items():
        by_measure[measure][(delta, reached)] += n
        by_cause[cause][measure][(delta, reached)] += n
    return {"by_measure": {measure: _outcome_figures(by_measure[measure]) for measure in MeasureKind.values},
            "by_cause": {cause: {measure: _outcome_figures(counted) for measure, counted in sorted(measures.items())}
                         for cause, measures in sorted(by_cause.items())}}


def _outcome_figures(counted: Counter) -> dict:
    """The figures of one measure from {(change or None, reached MCID): patients}."""
    patients = sum(counted.values())
    scored = sorted((delta, n) for (delta, _), n in counted.items() if delta is not None)
    with_follow_up = sum(n for _, n in scored)
    reached = sum(n for (_, hit), n in counted.items() if hit)
    return {"patients": patients, "with_follow_up": with_follow_up, "no_follow_up": patients - with_follow_up,
            "reached_mcid": reached, "share_reaching_mcid": rate(reached, with_follow_up),
            "median_change": weighted_median(scored)}


def weighted_median(counted: list[tuple[float, int]]) -> float | None:
    """The median of values given sorted with how often each occurs: what ``statistics.median`` gives
    of the list written out (the mean of the two middle values of an even count)."""
    total = sum(n for _, n in counted)
    if not total:
        return None
    wanted = sorted({(total - 1) // 2, total // 2})
    middle, seen = [], 0
    for value, n in counted:
        while wanted and wanted[0] < seen + n:
            middle.append(value)
            wanted.pop(0)
        seen += n
    return middle[0] if total % 2 else (middle[0] + middle[1]) / 2


def billing(filters: Filters) -> dict:
    zero = Value(Decimal("0.00"))
    money = DecimalField(max_digits=10, decimal_places=2)
    charges = _of_patients(Charge.objects.filter(status=ChargeStatus.ACTIVE, date_of_service__gte=filters.start,
                                                 date_of_service__lte=filters.end), filters)
    if filters.therapist_id is not None:
        charges = charges.filter(therapist_id=filters.therapist_id)
    totals = charges.aggregate(total=Coalesce(Sum("total"), zero, output_field=money), count=Count("pk"))
    units = ChargeLine.objects.filter(charge__in=charges.values("pk")).aggregate(units=Sum("units"))["units"] or 0
    payments = _of_patients(Payment.objects.all(), filters)
    paid = payments.aggregate(
        in_range=Coalesce(Sum("amount", filter=Q(received_on__gte=filters.start, received_on__lte=filters.end)),
                          zero, output_field=money),
        to_end=Coalesce(Sum("amount", filter=Q(received_on__lte=filters.end)), zero, output_field=money))
    invoiced = _of_patients(Invoice.objects.filter(issued_on__lte=filters.end).exclude(status=InvoiceStatus.VOID),
                            filters).aggregate(total=Coalesce(Sum("total"), zero, output_field=money))["total"]
    return {"charges_total": totals["total"], "charges": totals["count"], "units": units,
            "units_per_visit": rate(units, totals["count"]), "payments_total": paid["in_range"],
            "outstanding_balance": invoiced - paid["to_end"]}


def compliance(filters: Filters, *, now: datetime, state=None) -> dict:
    """Overdue reports and re-certifications (from the beat task's snapshot when it was taken today
    under the current policy, else from the clock), and unsigned notes now."""
    notes = _of_patients(unsigned_notes(now=now), filters)
    if filters.therapist_id is not None:
        notes = notes.filter(author_id=filters.therapist_id)
    snapshot = state is not None and state.due_as_of == local_date(clinic_zone(), now) \
        and state.due_taken_at is not None and state.due_taken_at >= clinic_policy().updated_at
    if snapshot:
        rows = _of_patients(OverduePlan.objects.all(), filters)
        if filters.therapist_id is not None:
            rows = rows.filter(therapist_id=filters.therapist_id)
        counts = rows.aggregate(progress_report=Count("pk", filter=Q(progress_report=True)),
                                recertification=Count("pk", filter=Q(recertification=True)))
    else:
        plans = _of_patients(PlanOfCare.objects.filter(status=PlanStatus.OPEN), filters)
        if filters.therapist_id is not None:
            plans = plans.filter(therapist_id=filters.therapist_id)
        counts = {what: len(plan_ids) for what, plan_ids in overdue_plans(plans, now=now).items()}
    return {"overdue_progress_reports": counts.get("progress_report", 0),
            "overdue_recertifications": counts.get("recertification", 0),
            "unsigned_notes": notes.count(), "overdue_as_of": state.due_taken_at if snapshot else now}


def overdue_plans(plans: QuerySet, *, now: datetime) -> dict[str, set[int]]:
    """{"progress_report" | "recertification": ids of the plans overdue for it today} by the clock."""
    overdue = defaultdict(set)
    for plan_id, items in due_for_plans(plans, today=local_date(clinic_zone(), now)).items():
        for item in items:
            if item.overdue:
                overdue[item.what].add(plan_id)
    return overdue
