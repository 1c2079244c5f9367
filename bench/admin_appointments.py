"""Benchmark of the admin's appointment list (/admin/scheduling/appointment/) over 1,000,000 rows.

    .venv/bin/python bench/admin_appointments.py                # 1,000,000 appointments
    .venv/bin/python bench/admin_appointments.py --scale 0.1    # 100,000: a quick check

It drops and recreates its own database (``hipclinic_bench`` unless --database-url says
otherwise), fills it with set-based SQL (``INSERT ... SELECT generate_series``, under the
exclusion constraints that forbid overlapping appointments), and requests page 1, a deep
page, two filtered pages and a search through Django's test client, signed in as a clinic
manager, as the admin serves them (DEBUG off). For each it prints the median and p95 time,
the queries, and the COUNT queries with their time; then the same pages with Django's stock
paginator (a full ``COUNT(*)`` of the list on every page), and the ratio.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Timings,
    add_database_options,
    collect_static,
    database_name,
    drop_database,
    line,
    machine,
    migrate,
    ratio,
    recreate_database,
    setup_django,
    signed_in,
    timed,
)

SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
            "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
            "Clarke", "Khan", "Harris", "Lewis", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore",
            "Clark", "King", "Harrison", "Lee", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson"]
SLOTS_PER_DAY = 8  # each therapist's day: one appointment an hour from 09:00 to 16:00 UTC


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (1,000,000 appointments)")
    parser.add_argument("--appointments", type=int, help="appointments to create (default 1,000,000 x scale)")
    parser.add_argument("--therapists", type=int, help="default 50 (fewer for under 4,000 appointments)")
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page (after 2 warm-up requests)")
    parser.add_argument("--before-repeat", type=int, default=3,
                        help="timed requests per page as before this change (0: skip; each takes seconds)")
    parser.add_argument("--show-queries", action="store_true", help="print every query of each page with its time")
    add_database_options(parser)
    args = parser.parse_args()
    args.appointments = args.appointments or max(1000, int(1_000_000 * args.scale))
    args.patients = max(100, args.appointments // 10)
    args.therapists = args.therapists or min(50, max(1, args.patients // 8))
    return args


# ---------------------------------------------------------------------------- data


def fill(args) -> dict:
    """Users, therapists, patients and appointments; no two active appointments overlap for a
    therapist or a patient, and the database's exclusion constraints check every row."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import set_role
    from apps.patients.models import Patient
    from apps.scheduling.models import Appointment, AppointmentKind, Therapist

    manager = User.objects.create_user("bench-manager", email="manager@clinic.test")
    set_role(user=manager, role=Role.CLINIC_MANAGER)
    desk = User.objects.create_user("bench-desk", email="desk@clinic.test")
    set_role(user=desk, role=Role.FRONT_DESK)
    therapists = []
    for number in range(args.therapists):
        user = User.objects.create_user(f"bench-therapist-{number}", email=f"t{number}@clinic.test",
                                        first_name="Therapist", last_name=f"{number:03d}")
        set_role(user=user, role=Role.THERAPIST)
        therapists.append(Therapist.objects.create(user=user, display_name=f"Therapist {number:03d}"))
    kinds = list(AppointmentKind.objects.order_by("slug"))

    # Spread over as many days as it takes at 8 a day per therapist, ending 90 days from now.
    days = -(-args.appointments // (args.therapists * SLOTS_PER_DAY))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - timedelta(days=days - 90)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            f"""INSERT INTO {Patient._meta.db_table} (record_number, first_name, last_name, date_of_birth, sex, email,
                    phone, time_zone, preferred_contact, email_consent, email_consent_changed_at, notes, archived_at,
                    created_at, updated_at)
                SELECT 'HC' || lpad(g::text, 7, '0'), 'Pat' || g, (%s::text[])[1 + g %% %s], DATE '1960-01-01'
                       + (g %% 15000), 'unknown', 'p' || g || '@example.org', '', 'UTC', 'email', false, NULL, '',
                       NULL, now(), now()
                FROM generate_series(1, %s) AS g""",
            [SURNAMES, len(SURNAMES), args.patients],
        )
        cursor.execute(f"SELECT min(id) FROM {Patient._meta.db_table}")
        first_patient = cursor.fetchone()[0]
        # Row g belongs to therapist g % T, in that therapist's slot n = g / T (day n / 8, hour
        # 9 + n % 8): a therapist never has two at once. Patient g % P: two rows of one patient
        # are P rows apart, so P / T slots apart, on different days when P / T >= 8.
        assert args.patients // args.therapists >= SLOTS_PER_DAY, "too few patients for this many therapists"
        cursor.execute(
            f"""INSERT INTO {Appointment._meta.db_table} (patient_id, therapist_id, kind_id, start, "end", status,
                    series_id, overlap_reason, booked_by_id, created_at, updated_at)
                SELECT %(first_patient)s + g %% %(patients)s, (%(therapists)s::bigint[])[1 + g %% %(t)s],
                       (%(kinds)s::bigint[])[1 + g %% 3], s.start,
                       s.start + make_interval(mins => (%(minutes)s::int[])[1 + g %% 3]),
                       CASE WHEN s.start >= now() THEN 'booked'
                            WHEN g %% 20 = 0 THEN 'cancelled' WHEN g %% 50 = 7 THEN 'no_show'
                            ELSE 'completed' END,
                       NULL, '', %(desk)s, s.start - interval '14 days', s.start - interval '14 days'
                FROM generate_series(0, %(n)s - 1) AS g,
                     LATERAL (SELECT %(first_day)s::timestamptz + make_interval(
                                  days => (g / %(t)s) / {SLOTS_PER_DAY}, hours => 9 + (g / %(t)s) %% {SLOTS_PER_DAY})
                              AS start) AS s""",
            {"first_patient": first_patient, "patients": args.patients, "n": args.appointments,
             "therapists": [t.pk for t in therapists], "t": args.therapists, "kinds": [k.pk for k in kinds],
             "minutes": [k.duration_minutes for k in kinds], "desk": desk.pk, "first_day": first_day},
        )
        cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a settled table
    return {"manager": manager, "therapist": therapists[len(therapists) // 2], "days": days}


# ---------------------------------------------------------------------------- requests


def is_count(sql: str) -> bool:
    return "COUNT(" in sql.upper()


def request_stats(client, url: str, show_queries: bool = False) -> dict:
    """One request with its queries captured: status, number of queries, COUNT queries and their time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response, elapsed = timed(client.get, url, secure=True)
    assert response.status_code == 200, (url, response.status_code, response.get("Location"))
    queries = [(query["sql"], float(query["time"])) for query in captured.captured_queries]
    counts = [(sql, seconds) for sql, seconds in queries if is_count(sql)]
    if show_queries:
        for sql, seconds in queries:
            line("      query", f"{seconds * 1000:8.1f} ms  {short(sql, 160)}", width=12)
    slowest = max(queries, key=lambda query: query[1])
    return {"elapsed": elapsed, "queries": len(queries), "counts": counts, "slowest": slowest,
            "sql_time": sum(seconds for _sql, seconds in queries),
            "ids": re.findall(r'href="/admin/scheduling/appointment/(\d+)/change/', response.content.decode())}


def short(sql: str, width: int = 110) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.contrib import admin
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test import Client

    from apps.scheduling.models import Appointment

    try:
        migrate()
        collect_static()
        print(machine(), flush=True)
        people, fill_time = timed(fill, args)
        total = Appointment.objects.count()
        print(f"{total:,} appointments ({args.therapists} therapists, {args.patients:,} patients, "
              f"{people['days']:,} days), filled in {fill_time:.1f} s\n", flush=True)

        client = signed_in(Client(), people["manager"])
        per_page = admin.site._registry[Appointment].list_per_page
        deep = max(1, total // per_page // 2)
        pages = [
            ("page 1", "/admin/scheduling/appointment/"),
            (f"deep page (p={deep:,})", f"/admin/scheduling/appointment/?p={deep}"),
            ("filtered: one therapist",
             f"/admin/scheduling/appointment/?therapist__id__exact={people['therapist'].pk}"),
            ("filtered: status = completed", "/admin/scheduling/appointment/?status__exact=completed"),
            ("search: a surname (q=Patel)", "/admin/scheduling/appointment/?q=Patel"),
        ]
        model_admin = admin.site._registry[Appointment]
        product = (model_admin.paginator, model_admin.change_list_template)
        stock = (Paginator, "admin/change_list.html")  # Django's paginator and date drill-down
        print("Times: median and p95 of the whole request; then the page's queries and their time in PostgreSQL "
              "(one request,\ncaptured), and the COUNT queries among them with their time.")
        print(f"Admin list as a clinic manager, through Django's test client; {args.repeat} timed requests per "
              f"page after 2 warm-up requests, product and full count taking turns ({args.before_repeat} for "
              f"'before', measured last).\n"
              f"product:    {product[0].__module__}.{product[0].__name__}, drill-down from the first and last "
              f"start, index on (start, id)\n"
              f"full count: Django's Paginator (COUNT(*) of the list on every page, plain OFFSET), same index\n"
              f"before:     Django's Paginator and date drill-down, without the (start, id) index\n", flush=True)

        def use(paginator, template):
            model_admin.paginator, model_admin.change_list_template = paginator, template

        def request(url, setup):
            use(*setup)
            return client.get(url, secure=True)

        results = {}
        full_count = (Paginator, product[1])
        try:
            for label, url in pages:
                for variant, setup in (("product", product), ("full count", full_count)):
                    use(*setup)
                    results[label, variant] = [request_stats(client, url, args.show_queries and variant == "product")]
                # The two taking turns, so that the machine's load falls on both alike.
                timings = Timings.interleaved({"product": lambda url=url: request(url, product),
                                               "full count": lambda url=url: request(url, full_count)},
                                              repeat=args.repeat)
                for variant, values in timings.items():
                    results[label, variant].append(values)
            if args.before_repeat:
                index = next(index.name for index in Appointment._meta.indexes if index.fields == ["start", "id"])
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP INDEX "{index}"')
                use(*stock)
                for label, url in pages:
                    results[label, "before"] = [request_stats(client, url),
                                                Timings.of(lambda url=url: client.get(url, secure=True),
                                                           repeat=args.before_repeat)]
        finally:
            use(*product)

        for label, url in pages:
            stats, timings = results[label, "product"]
            print(f"{label}: {url}")
            for variant in ("product", "full count", "before"):
                if (label, variant) not in results:
                    continue
                other, other_timings = results[label, variant]
                same = "" if other["ids"] == stats["ids"] else "  <-- OTHER ROWS THAN THE PRODUCT'S"
                versus = "" if variant == "product" else f"  product = {ratio(timings.median, other_timings.median)}"
                count_time = sum(seconds for _sql, seconds in other["counts"]) * 1000
                line(f"  {variant}", f"{other_timings.ms()}  {other['queries']:2d} queries "
                     f"({other['sql_time'] * 1000:6.1f} ms), COUNT {len(other['counts'])} ({count_time:6.1f} ms)"
                     f"{versus}{same}", width=14)
            for sql, seconds in stats["counts"]:
                line("    product's COUNT", f"{seconds * 1000:8.1f} ms  {short(sql)}", width=28)
            sql, seconds = stats["slowest"]
            line("    product's slowest query", f"{seconds * 1000:8.1f} ms  {short(sql)}", width=28)
            print(flush=True)
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
