"""Benchmark of the slot finder: 20 therapists over 4 weeks with 10,000 existing appointments.

    .venv/bin/python bench/slot_finder.py                  # 20 therapists, 10,000 appointments
    .venv/bin/python bench/slot_finder.py --scale 0.25     # 5 therapists, 2,500: a quick check

It drops and recreates its own database (``hipclinic_bench`` unless --database-url says
otherwise) and fills it with set-based SQL: therapists working Monday to Saturday
07:00-20:00 in the clinic's zone, and in the four weeks searched 10,000 appointments
(follow-ups, re-assessments and initial assessments, one in twenty cancelled) packed into
their days under the exclusion constraints, plus some time off. Then it finds the free
follow-up slots of every therapist over the four weeks five ways, checks that all five
give the same slots, and prints each one's median and p95 time, its queries and the ratios:

* the product's selector (``apps.scheduling.selectors.free_slots``: on PostgreSQL one query
  returns only the free gaps of each working block, computed with multiranges, and
  ``slots.py`` lays the grid over them), the same selector computing the gaps in Python
  (``in_database=False``, the path SQLite takes: busy intervals loaded, then
  ``slots.free_gaps``), and the same through ``GET /api/v1/slots/`` (Django's
  test client, signed in as the front desk: validation, the JSON list, the renderer);
* one raw SQL query fetching the busy intervals the selector needs (working hours,
  active appointments and time off in the window): the floor for loading its data;
* one SQL query computing the free slots in PostgreSQL (generate_series over each working
  block, NOT EXISTS an overlapping appointment or time off);
* a naive per-therapist, per-day ORM loop (three queries a day, candidates checked one
  by one against the day's appointments).

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Timings,
    add_database_options,
    database_name,
    drop_database,
    line,
    machine,
    migrate,
    ratio,
    recreate_database,
    setup_django,
    timed,
)

OPEN, CLOSE = time(7), time(20)
WORKING_DAYS = range(6)  # Monday to Saturday
WEEKS = 4

RAW_BUSY_SQL = """
SELECT 'hours', w.therapist_id, NULL::timestamptz, NULL::timestamptz, w.weekday, w.start_time, w.end_time,
       t.display_name
FROM scheduling_workinghours w JOIN scheduling_therapist t ON t.id = w.therapist_id
WHERE t.is_active
UNION ALL
SELECT 'appointment', a.therapist_id, a.start, a."end", NULL, NULL, NULL, NULL
FROM scheduling_appointment a
WHERE a.status IN ('booked', 'checked_in', 'completed') AND a.start < %(window_end)s AND a."end" > %(window_start)s
UNION ALL
SELECT 'time off', o.therapist_id, o.start, o."end", NULL, NULL, NULL, NULL
FROM scheduling_timeoff o
WHERE o.start < %(window_end)s AND o."end" > %(window_start)s
"""

SQL_SLOTS = """
WITH blocks AS (
    SELECT w.therapist_id, t.display_name,
           (d.day + w.start_time) AT TIME ZONE %(zone)s AS block_start,
           LEAST((d.day + w.end_time) AT TIME ZONE %(zone)s, %(window_end)s) AS block_end,
           (d.day + w.start_time) AT TIME ZONE %(zone)s AS grid_origin
    FROM scheduling_workinghours w
    JOIN scheduling_therapist t ON t.id = w.therapist_id AND t.is_active
    JOIN (SELECT g::date AS day FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') g) d
      ON w.weekday = extract(isodow FROM d.day)::int - 1
), candidates AS (
    SELECT b.therapist_id, b.display_name, b.block_end, b.grid_origin + k * %(step)s AS start
    FROM blocks b,
         generate_series(0, floor(extract(epoch FROM b.block_end - b.block_start) / %(step_seconds)s)::int) AS k
)
SELECT c.therapist_id, c.display_name, c.start, c.start + %(duration)s
FROM candidates c
WHERE c.start >= %(not_before)s AND c.start + %(duration)s <= c.block_end
  -- Active appointments: the first NOT EXISTS matches the exclusion constraint's partial GiST index
  -- (OFFSET 0 keeps it a per-candidate index probe: misled by generate_series' row estimate, the
  -- planner would otherwise hash-join every candidate with every appointment of its therapist);
  -- the second takes the rare deliberate overlaps a manager booked (outside that index).
  AND NOT EXISTS (SELECT 1 FROM scheduling_appointment a
                  WHERE a.therapist_id = c.therapist_id AND a.status IN ('booked', 'checked_in', 'completed')
                    AND a.overlap_reason = ''
                    AND tstzrange(a.start, a."end", '[)') && tstzrange(c.start, c.start + %(duration)s, '[)')
                  OFFSET 0)
  AND NOT EXISTS (SELECT 1 FROM scheduling_appointment a
                  WHERE a.therapist_id = c.therapist_id AND a.status IN ('booked', 'checked_in', 'completed')
                    AND a.overlap_reason <> '' AND a.start < c.start + %(duration)s AND a."end" > c.start)
  AND NOT EXISTS (SELECT 1 FROM scheduling_timeoff o
                  WHERE o.therapist_id = c.therapist_id AND o.start < c.start + %(duration)s AND o."end" > c.start)
ORDER BY c.start, c.display_name, c.therapist_id
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (20 therapists, 10,000 appointments)")
    parser.add_argument("--therapists", type=int, help="default 20 x scale")
    parser.add_argument("--appointments", type=int, help="in the four weeks searched; default 10,000 x scale")
    parser.add_argument("--zone", default=os.environ.get("CLINIC_TIME_ZONE", "Europe/London"),
                        help="the clinic's time zone (CLINIC_TIME_ZONE)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of the fast ways (after 2 warm-up runs)")
    parser.add_argument("--naive-repeat", type=int, default=3, help="timed runs of the per-therapist, per-day loop")
    add_database_options(parser)
    args = parser.parse_args()
    args.therapists = args.therapists or max(1, round(20 * args.scale))
    args.appointments = args.appointments or max(10, int(10_000 * args.scale))
    return args


# ---------------------------------------------------------------------------- data


def next_monday(zone) -> date:
    today = datetime.now(zone).date()
    return today + timedelta(days=7 - today.weekday())


def fill(args, first_day: date) -> dict:
    """Therapists with their hours, patients, then the appointments: each therapist's working days
    packed from 07:00 with kinds in a fixed pseudo-random mix (85 % 30-minute follow-ups, 10 %
    45-minute re-assessments, 5 % one-hour initial assessments), what does not fit by 20:00
    dropped, then rows dropped evenly until the wanted number is left; one in twenty cancelled."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import set_role
    from apps.patients.models import Patient
    from apps.scheduling.models import Appointment, AppointmentKind, Therapist, TimeOff, WorkingHours

    desk = User.objects.create_user("bench-desk", email="desk@clinic.test")
    set_role(user=desk, role=Role.FRONT_DESK)
    therapists = []
    for number in range(args.therapists):
        user = User.objects.create_user(f"bench-therapist-{number}", email=f"t{number}@clinic.test")
        set_role(user=user, role=Role.THERAPIST)
        therapist = Therapist.objects.create(user=user, display_name=f"Therapist {number:02d}")
        WorkingHours.objects.bulk_create(WorkingHours(therapist=therapist, weekday=day, start_time=OPEN,
                                                      end_time=CLOSE) for day in WORKING_DAYS)
        therapists.append(therapist)
    kinds = {kind.slug: kind for kind in AppointmentKind.objects.all()}
    minutes_open = (CLOSE.hour - OPEN.hour) * 60
    patients = max(200, args.appointments // 5)

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            f"""INSERT INTO {Patient._meta.db_table} (record_number, first_name, last_name, date_of_birth, sex, email,
                    phone, time_zone, preferred_contact, email_consent, email_consent_changed_at, notes, archived_at,
                    created_at, updated_at)
                SELECT 'HC' || lpad(g::text, 6, '0'), 'Pat', 'Patient' || g, DATE '1960-01-01', 'unknown',
                       'p' || g || '@example.org', '', %s, 'email', false, NULL, '', NULL, now(), now()
                FROM generate_series(1, %s) AS g""",
            [args.zone, patients],
        )
        cursor.execute(f"SELECT min(id) FROM {Patient._meta.db_table}")
        first_patient = cursor.fetchone()[0]
        # Patient = rank in start order modulo P: one patient's rows are P rows apart in time, far
        # more than the at most 3 x therapists rows that can overlap one another.
        cursor.execute(
            f"""INSERT INTO {Appointment._meta.db_table} (patient_id, therapist_id, kind_id, start, "end", status,
                    series_id, overlap_reason, booked_by_id, created_at, updated_at)
                WITH units AS (
                    SELECT t.id AS therapist_id, d.day, u.n,
                           CASE WHEN h.r < 85 THEN %(follow_up)s WHEN h.r < 95 THEN %(reassessment)s
                                ELSE %(initial)s END AS kind_id,
                           CASE WHEN h.r < 85 THEN 30 WHEN h.r < 95 THEN 45 ELSE 60 END AS minutes
                    FROM unnest(%(therapists)s::bigint[]) AS t(id)
                    CROSS JOIN (SELECT g::date AS day FROM generate_series(%(first_day)s::date,
                                %(first_day)s::date + {WEEKS * 7 - 1}, interval '1 day') g
                                WHERE extract(isodow FROM g) <= {len(WORKING_DAYS)}) AS d
                    CROSS JOIN generate_series(0, {minutes_open // 30 - 1}) AS u(n)
                    CROSS JOIN LATERAL (SELECT abs(hashtext(t.id || ':' || d.day || ':' || u.n)) %% 100 AS r) AS h
                ), packed AS (
                    SELECT *, SUM(minutes) OVER (PARTITION BY therapist_id, day ORDER BY n) AS ends_at
                    FROM units
                ), fitting AS (
                    SELECT *, row_number() OVER (ORDER BY abs(hashtext(therapist_id || '/' || day || '/' || n)))
                              AS pick
                    FROM packed WHERE ends_at <= {minutes_open}
                ), kept AS (
                    SELECT *, (day + %(open)s::time + make_interval(mins => (ends_at - minutes)::int))
                              AT TIME ZONE %(zone)s AS start
                    FROM fitting WHERE pick <= %(count)s
                )
                SELECT %(first_patient)s + (row_number() OVER (ORDER BY start, therapist_id)) %% %(patients)s,
                       therapist_id, kind_id, start, start + make_interval(mins => minutes),
                       CASE WHEN pick %% 20 = 0 THEN 'cancelled' ELSE 'booked' END, NULL, '', %(desk)s, now(), now()
                FROM kept""",
            {"therapists": [t.pk for t in therapists], "first_day": first_day, "open": OPEN, "zone": args.zone,
             "count": args.appointments, "first_patient": first_patient, "patients": patients, "desk": desk.pk,
             "follow_up": kinds["follow_up"].pk, "reassessment": kinds["reassessment"].pk,
             "initial": kinds["initial_assessment"].pk},
        )
        cursor.execute("VACUUM ANALYZE")
    # Some time off: every fifth therapist is away one afternoon a week.
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(args.zone)
    TimeOff.objects.bulk_create(
        TimeOff(therapist=therapist, reason="Course",
                start=datetime.combine(first_day + timedelta(days=7 * week + number % 5), time(13), zone),
                end=datetime.combine(first_day + timedelta(days=7 * week + number % 5), time(20), zone))
        for number, therapist in enumerate(therapists) if number % 5 == 0 for week in range(WEEKS)
    )
    return {"desk": desk, "kind": kinds["follow_up"]}


# ---------------------------------------------------------------------------- the ways


def raw_busy(window_start, window_end) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_BUSY_SQL, {"window_start": window_start, "window_end": window_end})
        return cursor.fetchall()


def sql_slots(*, kind, window_start, window_end, zone_name: str, step: timedelta) -> list[tuple]:
    from django.db import connection, transaction

    zone_first = window_start.astimezone(_zone(zone_name)).date() - timedelta(days=1)
    zone_last = window_end.astimezone(_zone(zone_name)).date() + timedelta(days=1)
    with transaction.atomic(), connection.cursor() as cursor:
        # The same misleading estimate would have PostgreSQL compile the query (JIT) for longer
        # than it runs.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(SQL_SLOTS, {
            "zone": zone_name, "window_end": window_end, "not_before": window_start, "first_day": zone_first,
            "last_day": zone_last, "step": step, "step_seconds": step.total_seconds(), "duration": kind.duration,
        })
        return [(therapist_id, start, end) for therapist_id, _name, start, end in cursor.fetchall()]


def naive_slots(*, kind, first_day: date, last_day: date, zone_name: str, step: timedelta) -> list[tuple]:
    """Per therapist, per day: that day's hours, appointments and time off (three queries), then
    every candidate on the grid checked against each busy interval in turn."""
    from apps.scheduling.models import Appointment, Therapist, TimeOff, WorkingHours

    zone = _zone(zone_name)
    found = []
    for therapist in Therapist.objects.filter(is_active=True):
        day = first_day
        while day <= last_day:
            day_start = datetime.combine(day, time(0), zone)
            day_end = datetime.combine(day + timedelta(days=1), time(0), zone)
            hours = list(WorkingHours.objects.filter(therapist=therapist, weekday=day.weekday()))
            busy = [(a.start, a.end) for a in
                    Appointment.objects.active().filter(therapist=therapist).overlapping(day_start, day_end)]
            busy += [(o.start, o.end) for o in
                     TimeOff.objects.filter(therapist=therapist, start__lt=day_end, end__gt=day_start)]
            for block in hours:
                start = datetime.combine(day, block.start_time, zone)
                block_end = datetime.combine(day, block.end_time, zone)
                while start + kind.duration <= block_end:
                    end = start + kind.duration
                    if not any(busy_start < end and busy_end > start for busy_start, busy_end in busy):
                        found.append((therapist.pk, start, end))
                    start += step
            day += timedelta(days=1)
    return found


def _zone(name: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def as_set(slots) -> set[tuple]:
    from datetime import UTC

    return {(therapist_id, start.astimezone(UTC), end.astimezone(UTC)) for therapist_id, start, end in slots}


# ---------------------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    os.environ["CLINIC_TIME_ZONE"] = args.zone
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.ops.policy import clinic_policy
    from apps.scheduling import selectors
    from apps.scheduling.models import Appointment, AppointmentStatus

    try:
        migrate()
        print(machine(), flush=True)
        zone = _zone(args.zone)
        first_day = next_monday(zone)
        last_day = first_day + timedelta(days=WEEKS * 7 - 1)
        people, fill_time = timed(fill, args, first_day)
        kind = people["kind"]
        window_start, window_end = selectors.search_window(first_day, last_day)
        in_window = Appointment.objects.overlapping(window_start, window_end)
        total, active = in_window.count(), in_window.exclude(status=AppointmentStatus.CANCELLED).count()
        grid = clinic_policy().slot_step_minutes  # the clinic's slot grid, as the selector reads it
        step = timedelta(minutes=grid)
        print(f"{args.therapists} therapists (Mon-Sat {OPEN:%H:%M}-{CLOSE:%H:%M} {args.zone}), {total:,} appointments "
              f"from {first_day} to {last_day} ({active:,} active), filled in {fill_time:.1f} s; searching "
              f"{kind.slug} ({kind.duration_minutes} min) slots on a {grid}-minute grid\n",
              flush=True)

        def selector():
            return selectors.free_slots(kind=kind, start_date=first_day, end_date=last_day, now=window_start)

        def selector_python():
            return selectors.free_slots(kind=kind, start_date=first_day, end_date=last_day, now=window_start,
                                        in_database=False)

        client = Client()
        client.force_login(people["desk"])
        url = f"/api/v1/slots/?kind={kind.slug}&start={first_day}&end={last_day}"

        def api():
            response = client.get(url, secure=True)
            assert response.status_code == 200, (response.status_code, response.content[:300])
            return response

        def sql():
            return sql_slots(kind=kind, window_start=window_start, window_end=window_end, zone_name=args.zone,
                             step=step)

        def naive():
            return naive_slots(kind=kind, first_day=first_day, last_day=last_day, zone_name=args.zone, step=step)

        # Each way once with its queries counted, and the answers compared.
        answers, queries = {}, {}
        for name, function in (("selector", selector), ("python", selector_python), ("sql", sql), ("naive", naive),
                               ("busy", lambda: raw_busy(window_start, window_end))):
            with CaptureQueriesContext(connection) as captured:
                answers[name] = function()
            queries[name] = len(captured.captured_queries)
        with CaptureQueriesContext(connection) as captured:
            body = api().json()
        queries["api"] = len(captured.captured_queries)
        found = as_set((slot.therapist_id, slot.start, slot.end) for slot in answers["selector"])
        from_api = as_set((row["therapist"], datetime.fromisoformat(row["start"]), datetime.fromisoformat(row["end"]))
                          for row in body)
        assert from_api == found, "the API's slots differ from the selector's"
        assert as_set((slot.therapist_id, slot.start, slot.end) for slot in answers["python"]) == found, (
            len(answers["python"]), len(found))
        assert answers["python"] == answers["selector"], "the Python path's slots differ from PostgreSQL's"
        assert as_set(answers["sql"]) == found, (len(answers["sql"]), len(found))
        assert as_set(answers["naive"]) == found, (len(answers["naive"]), len(found))
        busy_rows = sum(1 for row in answers["busy"] if row[0] != "hours")

        # The fast ways taking turns, so that the machine's load falls on them alike.
        times = Timings.interleaved({"selector": selector, "python": selector_python, "api": api, "sql": sql,
                                     "busy": lambda: raw_busy(window_start, window_end)}, repeat=args.repeat)
        times["naive"] = Timings.of(naive, repeat=args.naive_repeat, warmup=1)
        print(f"{len(found):,} free slots found, the same by all five ways; median and p95 of {args.repeat} runs "
              f"taking turns ({args.naive_repeat} for the naive loop, after them) after warm-up.\n")
        base = times["selector"].median
        line("selector free_slots(): gaps from PostgreSQL",
             f"{times['selector'].ms()}  {queries['selector']:5,} queries")
        line("selector, gaps in Python (in_database=False)",
             f"{times['python'].ms()}  {queries['python']:5,} queries  = {ratio(times['python'].median, base)} the "
             "selector")
        line("GET /api/v1/slots/ (test client, front desk)",
             f"{times['api'].ms()}  {queries['api']:5,} queries  = {ratio(times['api'].median, base)} the selector")
        line(f"raw SQL: the busy intervals alone ({busy_rows:,} rows)",
             f"{times['busy'].ms()}  {queries['busy']:5,} query    selector = "
             f"{ratio(base, times['busy'].median)} this")
        line("one SQL query computing the free slots",
             f"{times['sql'].ms()}  {queries['sql']:5,} queries  selector = {ratio(base, times['sql'].median)} this "
             "(BEGIN, SET LOCAL jit = off, the query, COMMIT)")
        line("naive per-therapist, per-day ORM loop",
             f"{times['naive'].ms()}  {queries['naive']:5,} queries  = {ratio(times['naive'].median, base)} the "
             f"selector")
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
