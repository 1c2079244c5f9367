"""Benchmark of the front desk's pages inside Django: home, a day's schedule, the booking page
with its slot look-up (one therapist and any therapist) and the reschedule page.

    .venv/bin/python bench/desk_pages.py                  # 100,000 patients, 20 therapists (about 2 minutes)
    .venv/bin/python bench/desk_pages.py --scale 0.05     # 5,000 patients: a quick check
    .venv/bin/python bench/desk_pages.py --scale 0.05 --profile   # where each page's time goes

It drops and recreates its own database (``hipclinic_bench_desk`` unless --database-url says
otherwise; the name must start with ``hipclinic_bench``), migrates it and fills it with the
load test's clinic (``tests/load/seed.py``: therapists working Monday to Friday 08:00-18:00,
patients with a referral, 2 % with an open red-flag alert, 8 weeks of completed and 12 weeks
of booked appointments filling 40 % of the diary). Then it signs in as the front desk with
Django's test client (every middleware, the session, the view, the templates; no sockets, no
gunicorn: ``load.py`` measures those) and requests each page in turn, the pages taking turns
so that a change in the machine's load falls on all of them alike. It prints each page's
median and p95, its size and its queries (with their time in PostgreSQL).

``--profile`` adds, for each page, the functions taking most time over ``--profile-repeat``
requests (cProfile, sorted by their own time and by cumulative time). ``--dump DIR`` writes
each page's HTML there (the CSRF token masked), to compare two versions of the templates.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import sys
import tempfile
import uuid
from datetime import timedelta
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
    recreate_database,
    setup_django,
    signed_in,
    timed,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hipclinic_bench_desk"
SEARCH_DAYS = 4  # as the load scenario searches (tests/load/locustfile.py)
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (100,000 patients)")
    parser.add_argument("--patients", type=int, help="default 100,000 x scale")
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--weeks-back", type=int, default=8, help="weeks of past appointments")
    parser.add_argument("--weeks-ahead", type=int, default=12, help="weeks of booked appointments")
    parser.add_argument("--fill", type=float, default=0.4, help="share of each therapist's slots already booked")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per page (after 2 warm-up requests)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of each page")
    parser.add_argument("--profile-repeat", type=int, default=10, help="requests per page under the profiler")
    parser.add_argument("--dump", type=Path, help="write each page's HTML (CSRF token masked) to this folder")
    add_database_options(parser)
    parser.set_defaults(database_url=os.environ.get("BENCH_DESK_DATABASE_URL", DEFAULT_DATABASE_URL))
    args = parser.parse_args()
    args.patients = args.patients or max(100, int(100_000 * args.scale))
    return args


def next_weekday(day, days: int = 1):
    day += timedelta(days=days)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


def pages(config: dict) -> list[tuple[str, str]]:
    """The pages timed, as a receptionist reaches them (the booking look-ups as the load scenario asks)."""
    from django.utils import timezone

    from apps.patients.models import Patient
    from apps.scheduling.models import Appointment, AppointmentStatus

    today = timezone.localdate()
    busy_day = next_weekday(today)
    first = next_weekday(today, 7)
    last = first + timedelta(days=SEARCH_DAYS - 1)
    patient = Patient.objects.order_by("pk").values_list("pk", flat=True)[10]
    therapist = config["therapists"][0]
    kind = config["kinds"]["follow_up"]
    appointment = (Appointment.objects.filter(status=AppointmentStatus.BOOKED, start__date__gte=first)
                   .order_by("start", "pk").values_list("pk", flat=True).first())
    search = f"kind={kind}&start_date={first}&end_date={last}"
    return [
        ("home (/desk/, today)", "/desk/"),
        (f"day schedule ({busy_day:%a %d %b})", f"/desk/day/{busy_day}/"),
        ("booking: slot look-up, one therapist", f"/desk/patients/{patient}/book/?{search}&therapist={therapist}"),
        ("booking: slot look-up, any therapist", f"/desk/patients/{patient}/book/?{search}&therapist="),
        ("reschedule (the coming week, any therapist)", f"/desk/appointments/{appointment}/reschedule/"),
    ]


def request_stats(client, url: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, secure=True)
    if response.status_code != 200:
        sys.exit(f"{url} answered {response.status_code}")
    return {"queries": len(captured), "sql_time": sum(float(query["time"]) for query in captured),
            "bytes": len(response.content), "html": response.content.decode()}


def profile(client, url: str, repeat: int, limit: int = 18) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(url, secure=True)
    profiler.disable()
    out = io.StringIO()
    for order in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(limit)
    return out.getvalue()


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from apps.accounts.models import User
    from tests.load.seed import seed

    try:
        migrate()
        collect_static()
        config, seconds = timed(seed, password="desk-bench-" + uuid.uuid4().hex, desk_users=1, api_users=0,
                                therapists=args.therapists, patients=args.patients, weeks_back=args.weeks_back,
                                weeks_ahead=args.weeks_ahead, fill=args.fill)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(machine(), flush=True)
        print(f"{config['patients']:,} patients, {config['appointments']:,} appointments, {args.therapists} "
              f"therapists, filled in {seconds:.1f} s; clinic zone {settings.CLINIC_TIME_ZONE}\n", flush=True)

        client = signed_in(Client(), User.objects.get(username=config["desk_users"][0]))
        chosen = pages(config)
        stats = {label: request_stats(client, url) for label, url in chosen}
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            for number, (label, _url) in enumerate(chosen, start=1):
                html = CSRF.sub(r'\1CSRF"', stats[label]["html"])
                (args.dump / f"{number}-{re.sub(r'[^a-z]+', '-', label.lower()).strip('-')}.html").write_text(html)
        timings = Timings.interleaved({label: lambda url=url: client.get(url, secure=True) for label, url in chosen},
                                      repeat=args.repeat)
        print(f"Front desk pages through Django's test client, signed in as the front desk; {args.repeat} timed "
              f"requests per page after 2 warm-up requests, the pages taking turns.\n")
        for label, url in chosen:
            page = stats[label]
            line(f"{label}", f"{timings[label].ms()}  {page['queries']:2d} queries ({page['sql_time'] * 1000:5.1f} ms "
                             f"in SQL), {page['bytes'] / 1024:6.1f} KiB", width=46)
            line("", url, width=46)
        print(f"\nload average after the run: {', '.join(f'{value:.2f}' for value in os.getloadavg())}", flush=True)
        if args.profile:
            for label, url in chosen:
                print(f"\n=== profile: {label} ({args.profile_repeat} requests)\n{url}")
                print(profile(client, url, args.profile_repeat), flush=True)
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
