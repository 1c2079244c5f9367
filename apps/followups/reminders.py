"""Scheduled e-mails of the follow-up loop: weekly plan, missed-session nudge, therapist alert, follow-up digest.

Each scan is ``(now) -> int``, registered with ``apps.notifications.reminders.register_scan``
in ``FollowupsConfig.ready()``: beat runs it every five minutes (and ``manage.py
send_due_reminders`` by hand), so it must be cheap when nothing is due and harmless when
run twice. All four have the shape of
``apps.scheduling.emails.queue_appointment_reminders``:

1. one SELECT of what is due, exact in SQL: the patient's local date is not computed per
   row but per *group of zones* (at any moment every IANA zone is on one of two or three
   dates, see ``zones_by_local_date``), so the condition is a short OR of
   ``time_zone IN (...) AND <rule for that date>``;
2. one SELECT of the keys already in the outbox among those candidates;
3. rows rendered with ``build_email`` (consent and one-click unsubscribe included) and one
   ``INSERT ... ON CONFLICT DO NOTHING`` (``queue_many``), so a concurrent twin of a scan
   inserts nothing twice. The outbox sweep sends them; ``send_after`` holds them during
   the clinic's quiet hours in the recipient's zone (``apps.notifications.services.send_time``).

A handful of queries whatever the number of programs, and never one per program.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from apps.followups.models import FollowUp, NextMorning, SessionLog, SessionLogItem
from apps.notifications.models import OutboxEmail
from apps.notifications.quiet_hours import is_quiet
from apps.notifications.services import build_email, queue_many, quiet_hours, send_time
from apps.ops.policy import clinic_policy
from apps.prescriptions.models import PatientLink, Program, ProgramItem, ProgramStatus
from apps.prescriptions.services import patient_link_url
from hipclinic.zones import clinic_zone, iso_week, long_date, zones_by_local_date

KIND_WEEKLY_PLAN = "weekly-plan"
KIND_MISSED_SESSION = "missed-session"
KIND_THERAPIST_ALERT = "therapist-alert"
KIND_FOLLOWUP_DUE = "followup-due"

# clinical-reference.md section 5: pain above 5/10 during an exercise means step back.
PAIN_ALERT_ABOVE = 5
# Alerts are about sessions of the last week: older logs are history, not news.
ALERT_LOOKBACK = timedelta(days=7)
NUDGE_INTERVAL = timedelta(days=7)  # at most one missed-session nudge per patient a week
FOLLOWUP_DIGEST_AHEAD = timedelta(days=7)  # the digest lists follow-ups due within a week, and overdue ones
MAX_PROGRAM_WEEKS = 52  # Program.weeks' validator: bounds the weekly-plan scan in SQL


def _emailable(programs: QuerySet) -> QuerySet:
    # The same test as Patient.can_receive_email, in SQL; build_email checks it again.
    return programs.filter(patient__email_consent=True, patient__archived_at__isnull=True).exclude(patient__email="")


def _open_link_id(now: datetime) -> Subquery:
    """The patient's newest open program link, so that no scan writes a link per program."""
    links = PatientLink.objects.filter(patient=OuterRef("patient"), revoked_at__isnull=True, expires_at__gt=now)
    return Subquery(links.order_by("-created_at").values("pk")[:1])


def _program_url(link_id: int | None) -> str:
    return patient_link_url(PatientLink(pk=link_id)) if link_id else ""


def _queue_new(rows: dict[str, Callable[[], OutboxEmail | None]]) -> int:
    """Build and insert the rows whose keys are not queued yet: one SELECT, one INSERT."""
    if not rows:
        return 0
    existing = set(OutboxEmail.objects.filter(key__in=list(rows)).values_list("key", flat=True))
    built = [build() for key, build in rows.items() if key not in existing]
    return queue_many([row for row in built if row is not None])


# ---------------------------------------------------------------------------- weekly plan


def _plan_day_q(day: date) -> Q:
    """Programs whose plan e-mail falls on ``day``: the chosen weekday, or the start date's."""
    # plan_weekday: 0 = Monday, as date.weekday(); blank = the start date's weekday.
    by_start = Q(start_date__iso_week_day=day.isoweekday())
    return Q(plan_weekday=day.weekday()) | (Q(plan_weekday__isnull=True) & by_start)


def _plan_weekday(program: Program) -> int:
    return program.start_date.weekday() if program.plan_weekday is None else program.plan_weekday


def queue_weekly_plans(now: datetime) -> int:
    """On the patient's chosen weekday (weeks 2 onwards), this week's exercises with the program link.

    Four queries at most: the due programs with patient and link, the keys already
    queued, their items with exercises, one INSERT.
    """
    due = Q()
    for day, zones in zones_by_local_date(now).items():
        due |= (Q(patient__time_zone__in=zones, start_date__lt=day,
                  start_date__gt=day - timedelta(weeks=MAX_PROGRAM_WEEKS)) & _plan_day_q(day))
    programs = (
        _emailable(Program.objects.active()).filter(due)
        .annotate(link_id=_open_link_id(now)).select_related("patient").order_by("pk")
    )
    planned = {}
    for program in programs:
        zone = program.patient.zone
        today = now.astimezone(zone).date()
        week = (today - program.start_date).days // 7 + 1
        if today.weekday() != _plan_weekday(program) or not 1 < week <= program.weeks:
            continue  # an unknown zone name (Patient.zone's fallback) or a program that has ended
        planned[f"{KIND_WEEKLY_PLAN}:{program.pk}:{iso_week(today)}"] = (program, zone, week)
    if not planned:
        return 0
    existing = set(OutboxEmail.objects.filter(key__in=list(planned)).values_list("key", flat=True))
    planned = {key: value for key, value in planned.items() if key not in existing}
    if not planned:
        return 0
    items = defaultdict(list)
    for item in (ProgramItem.objects.filter(program_id__in=[program.pk for program, _, _ in planned.values()])
                 .select_related("exercise").order_by("program_id", "order", "id")):
        items[item.program_id].append({"name": item.exercise.name, "dose": item.dose_text, "notes": item.notes})
    rows = []
    for key, (program, zone, week) in planned.items():
        patient = program.patient
        rows.append(build_email(
            key=key,
            kind=KIND_WEEKLY_PLAN,
            to_email=patient.email,
            subject=f"Your exercises for week {week}",
            text_template="emails/weekly_plan.txt",
            html_template="emails/weekly_plan.html",
            context={"first_name": patient.first_name, "week": week, "weeks": program.weeks,
                     "sessions_per_week": program.sessions_per_week, "items": items[program.pk],
                     "program_url": _program_url(program.link_id)},
            patient=patient,
            send_after=send_time(now, zone),
        ))
    return queue_many([row for row in rows if row is not None])


# ---------------------------------------------------------------------------- missed sessions


def missed_session_programs(now: datetime) -> QuerySet:
    """Active programs of consenting patients with no session logged for MISSED_SESSION_DAYS
    (counted from the start date when none was ever logged) by the latest local date on
    earth, and no nudge to that patient in the last seven days; with ``last_activity``."""
    days = timedelta(days=clinic_policy().missed_session_days)
    last_log = SessionLog.objects.filter(program=OuterRef("pk")).order_by("-session_date").values("session_date")[:1]
    # In SQL, a superset on constants the planner turns into a hashed anti-join: no log
    # after the cutoff of the latest local date anywhere (two or three dates exist at any
    # moment). The exact test, in the patient's own date, is made in Python on these few
    # rows (queue_missed_session_nudges); a per-row, per-zone test in SQL made PostgreSQL
    # run the last-log subquery for every program (and JIT-compile it).
    cutoff = max(zones_by_local_date(now)) - days
    logged_lately = SessionLog.objects.filter(program=OuterRef("pk"), session_date__gt=cutoff)
    recent_nudge = OutboxEmail.objects.filter(
        patient=OuterRef("patient"), kind=KIND_MISSED_SESSION, send_after__gt=now - NUDGE_INTERVAL
    )
    return (
        _emailable(Program.objects.active())
        .annotate(last_activity=Coalesce(Subquery(last_log), F("start_date")))
        .filter(start_date__lte=cutoff)
        .exclude(Exists(logged_lately))
        .exclude(Exists(recent_nudge))
        .annotate(link_id=_open_link_id(now))
        .select_related("patient")
        .order_by("pk")
    )


def queue_missed_session_nudges(now: datetime) -> int:
    """A gentle nudge after MISSED_SESSION_DAYS without a log; at most one a week.

    Three queries: the due programs (with their last log and link), the keys already
    queued, one INSERT. Once queued, a nudge keeps its patient out of the first query
    for a week, so the next runs make one query and insert nothing.
    """
    rows = {}
    for program in missed_session_programs(now):
        patient = program.patient
        zone = patient.zone
        today = now.astimezone(zone).date()
        if (today - program.last_activity).days < clinic_policy().missed_session_days:
            continue  # not yet in the patient's own date
        context = {
            "first_name": patient.first_name,
            "days": (today - program.last_activity).days,
            "logged_before": program.last_activity != program.start_date,
            "last_date": f"{program.last_activity:%A} {program.last_activity.day} {program.last_activity:%B}",
            "sessions_per_week": program.sessions_per_week,
            "program_url": _program_url(program.link_id),
        }
        rows[f"{KIND_MISSED_SESSION}:{program.pk}:{iso_week(today)}"] = functools.partial(
            build_email,
            key=f"{KIND_MISSED_SESSION}:{program.pk}:{iso_week(today)}",
            kind=KIND_MISSED_SESSION,
            to_email=patient.email,
            subject="How are your exercises going?",
            text_template="emails/missed_session.txt",
            html_template="emails/missed_session.html",
            context=context,
            patient=patient,
            send_after=send_time(now, zone),
        )
    return _queue_new(rows)


# ---------------------------------------------------------------------------- therapist alerts


def alert_log_items(now: datetime) -> QuerySet:
    """Log items of the last week with pain above 5, or worse next morning after the item's previous session too."""
    # Session dates are the patient's own: a week back from the earliest date anywhere on earth now.
    since = min(zones_by_local_date(now)) - ALERT_LOOKBACK
    earlier = SessionLogItem.objects.filter(item=OuterRef("item")).filter(
        Q(log__session_date__lt=OuterRef("log__session_date"))
        | Q(log__session_date=OuterRef("log__session_date"), log_id__lt=OuterRef("log_id"))
    )
    previous_morning = Subquery(earlier.order_by("-log__session_date", "-log_id").values("next_morning")[:1])
    return (
        SessionLogItem.objects.filter(log__session_date__gte=since)
        .annotate(previous_morning=previous_morning)
        .filter(Q(pain_during__gt=PAIN_ALERT_ABOVE)
                | Q(item__isnull=False, next_morning=NextMorning.WORSE, previous_morning=NextMorning.WORSE))
        .select_related("log__program__patient", "log__program__therapist", "exercise")
        .order_by("pk")
    )


def queue_therapist_alerts(now: datetime) -> int:
    """Tell the program's therapist about pain above 5, or a worse next morning twice running.

    Three queries: the alerting log items (with program, patient, therapist, exercise),
    the keys already queued, one INSERT. Staff e-mail: no patient consent applies; the
    body carries the record number, never the name; held outside 08:00-21:00 clinic time.
    """
    send_after = send_time(now, clinic_zone())
    rows = {}
    for log_item in alert_log_items(now):
        program = log_item.log.program
        if not program.therapist.email:
            continue
        context = {
            "record_number": program.patient.record_number,
            "exercise": log_item.exercise.name,
            "session_date": long_date(log_item.log.session_date),
            "pain": log_item.pain_during,
            "patient_url": settings.SITE_URL + reverse("desk:patient", kwargs={"patient_id": program.patient_id}),
        }
        alerts = []
        if log_item.pain_during is not None and log_item.pain_during > PAIN_ALERT_ABOVE:
            alerts.append((f"{KIND_THERAPIST_ALERT}:{log_item.pk}", "pain", "Alert: pain above 5 logged"))
        if log_item.next_morning == NextMorning.WORSE == log_item.previous_morning and log_item.item_id:
            alerts.append((f"{KIND_THERAPIST_ALERT}-worse:{log_item.item_id}:{log_item.log.session_date}",
                           "worse", "Alert: worse the next morning twice running"))
        for key, reason, subject in alerts:
            rows[key] = functools.partial(
                build_email,
                key=key,
                kind=KIND_THERAPIST_ALERT,
                to_email=program.therapist.email,
                subject=subject,
                text_template="emails/therapist_alert.txt",
                html_template="emails/therapist_alert.html",
                context={**context, "reason": reason},
                send_after=send_after,
            )
    return _queue_new(rows)


# ---------------------------------------------------------------------------- follow-up digest


def queue_followup_due(now: datetime) -> int:
    """Once a clinic day, from 08:00: the follow-ups still to book (due within a week or overdue) to the front desk.

    Three queries at most: does today's digest exist, the follow-ups with record numbers,
    one INSERT. Only record numbers: the address may be a shared mailbox.
    """
    local = now.astimezone(clinic_zone())
    if is_quiet(local.time(), quiet_hours()):
        return 0  # built in the morning, so that it lists what is still unbooked then
    today = local.date()
    key = f"{KIND_FOLLOWUP_DUE}:{today.isoformat()}"
    if OutboxEmail.objects.filter(key=key).exists():
        return 0
    policy = clinic_policy()
    flag_before = today - timedelta(days=policy.followup_flag_after_days)
    followups = [
        {"record_number": row["program__patient__record_number"], "week": row["week"],
         "due_date": row["due_date"], "overdue": row["due_date"] < flag_before, "past_due": row["due_date"] < today}
        for row in FollowUp.objects.to_book()
        .filter(due_date__lte=today + FOLLOWUP_DIGEST_AHEAD, program__patient__archived_at__isnull=True)
        .exclude(program__status__in=[ProgramStatus.DRAFT, ProgramStatus.STOPPED])
        .order_by("due_date", "program__patient__record_number", "week")
        .values("program__patient__record_number", "week", "due_date")
    ]
    if not followups:
        return 0
    row = build_email(
        key=key,
        kind=KIND_FOLLOWUP_DUE,
        to_email=policy.front_desk_email,
        subject=f"Follow-ups to book: {len(followups)} ({long_date(today)})",
        text_template="emails/followup_due.txt",
        html_template="emails/followup_due.html",
        context={"followups": followups, "count": len(followups),
                 "overdue_count": sum(1 for f in followups if f["overdue"]),
                 "flag_after_days": policy.followup_flag_after_days,
                 "desk_url": settings.SITE_URL + reverse("desk:followups")},
        send_after=now,
    )
    return queue_many([row])
