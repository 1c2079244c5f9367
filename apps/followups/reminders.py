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

The missed-session nudge, the one scan that can find thousands of rows at once, goes
further on PostgreSQL: one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` that stores
template names and a JSON context, and the e-mail is rendered when it is sent.

A handful of queries whatever the number of programs, and never one per program.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from apps.followups.models import FollowUp, NextMorning, SessionLog, SessionLogItem
from apps.notifications.models import OutboxEmail
from apps.notifications.quiet_hours import is_quiet
from apps.notifications.services import build_email, queue_many, quiet_hours, send_time
from apps.ops.policy import clinic_policy
from apps.prescriptions.models import PatientLink, Program, ProgramItem, ProgramStatus
from apps.prescriptions.services import patient_link_url
from hipclinic.zones import all_zones, clinic_zone, iso_week, long_date, zones_by_local_date

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
    # moment). The exact test, in the patient's own date, is made on these few rows only
    # (queue_missed_session_nudges); a per-row, per-zone test over every program made
    # PostgreSQL run the last-log subquery for every program (and JIT-compile it).
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


def _missed_session_context(*, first_name: str, today: date, last_activity: date, start_date: date,
                            sessions_per_week: int, link_id: int | None) -> dict:
    """The nudge's template context, JSON-able: it is stored and rendered when sent. The SQL scan builds the same."""
    return {
        "first_name": first_name,
        "days": (today - last_activity).days,
        "logged_before": last_activity != start_date,
        "last_date": f"{last_activity:%A} {last_activity.day} {last_activity:%B}",
        "sessions_per_week": sessions_per_week,
        "program_link": link_id,  # the template signs its URL when the e-mail is sent
    }


MISSED_SESSION_EMAIL = {
    "kind": KIND_MISSED_SESSION,
    "subject": "How are your exercises going?",
    "text_template": "emails/missed_session.txt",
    "html_template": "emails/missed_session.html",
}


def queue_missed_session_nudges(now: datetime) -> int:
    """A gentle nudge after MISSED_SESSION_DAYS without a log; at most one a week. Returns the rows inserted.

    The e-mails are rendered when sent (``apps.notifications.services.message_bodies``): the
    scan stores template names and a JSON context. On PostgreSQL one INSERT ... SELECT;
    elsewhere (SQLite) three queries: the due programs, the keys already queued, one INSERT.
    """
    if connections[OutboxEmail.objects.db].vendor == "postgresql":
        return _insert_missed_session_nudges(now)
    return _queue_missed_session_nudges_row_by_row(now)


def _queue_missed_session_nudges_row_by_row(now: datetime) -> int:
    """The nudges through Python on the few due rows: the due programs, the keys already queued, one INSERT."""
    rows = {}
    for program in missed_session_programs(now):
        patient = program.patient
        zone = patient.zone
        today = now.astimezone(zone).date()
        if (today - program.last_activity).days < clinic_policy().missed_session_days:
            continue  # not yet in the patient's own date
        key = f"{KIND_MISSED_SESSION}:{program.pk}:{iso_week(today)}"
        rows[key] = functools.partial(
            build_email,
            key=key,
            to_email=patient.email,
            context=_missed_session_context(
                first_name=patient.first_name, today=today, last_activity=program.last_activity,
                start_date=program.start_date, sessions_per_week=program.sessions_per_week, link_id=program.link_id,
            ),
            patient=patient,
            send_after=send_time(now, zone),
            render_when_sent=True,
            **MISSED_SESSION_EMAIL,
        )
    return _queue_new(rows)


def _zone_table(now: datetime) -> tuple[list[str], list[date], list[datetime], list[str]]:
    """Every IANA zone with its local date, iso week and send time (after quiet hours) at ``now``."""
    names, days, send_afters, weeks = [], [], [], []
    for name, zone in all_zones():
        today = now.astimezone(zone).date()
        names.append(name)
        days.append(today)
        send_afters.append(send_time(now, zone))
        weeks.append(iso_week(today))
    return names, days, send_afters, weeks


def _insert_missed_session_nudges(now: datetime) -> int:
    """The nudges in one statement on PostgreSQL: ``INSERT ... SELECT ... ON CONFLICT (key) DO NOTHING``.

    ``missed_session_programs`` (the rules, on a superset of dates) is materialized first, so
    the last log and the link are looked up for its few rows only; each is then joined to
    its patient's zone (a table of every zone's date and send time, unnested from arrays)
    for the exact test in the patient's own date. A name missing from that table takes the
    clinic's zone, as ``Patient.zone`` does. The context is built in SQL exactly as
    ``_missed_session_context`` builds it (the to_char names are English whatever lc_time).
    """
    connection = connections[OutboxEmail.objects.db]
    quote = connection.ops.quote_name
    candidates = missed_session_programs(now).order_by().values(
        "pk", "start_date", "sessions_per_week", "patient_id", "patient__first_name", "patient__email",
        "patient__time_zone", "last_activity", "link_id",
    )
    candidates_sql, candidates_params = candidates.query.sql_with_params()
    clinic = clinic_zone()
    clinic_today = now.astimezone(clinic).date()
    computed = {
        "key": f"%s || d.{quote('pk')} || ':' || d.week",
        "kind": "%s",
        "patient_id": f"d.{quote('patient_id')}",
        "to_email": f"d.{quote('patient__email')}",
        "subject": "%s",
        "text_template": "%s",
        "html_template": "%s",
        "context": f"""jsonb_build_object(
            'first_name', d.{quote('patient__first_name')},
            'days', d.today - d.{quote('last_activity')},
            'logged_before', d.{quote('last_activity')} <> d.{quote('start_date')},
            'last_date', to_char(d.{quote('last_activity')}, 'FMDay FMDD FMMonth'),
            'sessions_per_week', d.{quote('sessions_per_week')},
            'program_link', d.{quote('link_id')})""",
        "send_after": "d.send_after",
        "created_at": "%s",
    }
    computed_params = [
        f"{KIND_MISSED_SESSION}:", KIND_MISSED_SESSION, MISSED_SESSION_EMAIL["subject"],
        MISSED_SESSION_EMAIL["text_template"], MISSED_SESSION_EMAIL["html_template"], timezone.now(),
    ]
    # Every other column takes the model's default, so a field added later needs no change here.
    defaults = [field for field in OutboxEmail._meta.concrete_fields
                if not field.primary_key and field.attname not in computed]
    columns = [*computed, *(field.column for field in defaults)]
    values = [*computed.values(), *("%s" for _ in defaults)]
    default_params = [field.get_db_prep_save(field.get_default(), connection) for field in defaults]
    # Names come from the models' _meta and the ORM's compiled query; every value is a parameter.
    sql = f"""
        WITH zone (name, today, send_after, week) AS (
            SELECT * FROM unnest(%s::text[], %s::date[], %s::timestamptz[], %s::text[])
        ),
        due AS MATERIALIZED ({candidates_sql})
        INSERT INTO {quote(OutboxEmail._meta.db_table)} ({", ".join(quote(column) for column in columns)})
        SELECT {", ".join(values)}
        FROM (
            SELECT due.*, COALESCE(zone.today, %s) AS today, COALESCE(zone.send_after, %s) AS send_after,
                   COALESCE(zone.week, %s) AS week
            FROM due LEFT JOIN zone ON zone.name = due.{quote('patient__time_zone')}
        ) AS d
        WHERE d.{quote('last_activity')} <= d.today - %s
        ON CONFLICT ({quote('key')}) DO NOTHING
    """  # noqa: S608
    params = [
        *_zone_table(now), *candidates_params,
        *computed_params, *default_params,
        clinic_today, send_time(now, clinic), iso_week(clinic_today),
        clinic_policy().missed_session_days,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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
