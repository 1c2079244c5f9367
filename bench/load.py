"""The load test at full size: Locust against gunicorn and PostgreSQL, as tests/test_load.py
runs it in CI, with more users, more data and a longer measured run.

    .venv/bin/python bench/load.py                                  # 50 users, 5 minutes, 30,000 patients
    .venv/bin/python bench/load.py --users 200 --measure 600 --patients 100000
    .venv/bin/python bench/load.py --users 50 --measure 30 --patients 3000   # what CI runs

It drops and recreates its own database (``hipclinic_bench_load`` unless --database-url says
otherwise; the name must start with ``hipclinic_bench``), migrates it, fills it with
``tests/load/seed.py``, collects the static files, starts gunicorn with production settings
on a free loopback port and runs ``tests/load/locustfile.py`` headless against it
(``tests/load/harness.py`` says which two settings differ from production, and why). It
prints the warm-up (every user signing in), p50/p95 per kind of request, the measured run as
a whole (requests per second, error rate, bookings made and refused for an overlap), and
the time each route spent inside Django according to the server's own request log.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from tests.load import harness

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hipclinic_bench_load"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/9"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users (3 desk : 2 API)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--measure", type=float, default=300, help="seconds of measured run after the sign-ins")
    parser.add_argument("--patients", type=int, default=30_000)
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--weeks-back", type=int, default=8, help="weeks of past appointments")
    parser.add_argument("--weeks-ahead", type=int, default=12, help="weeks of booked appointments")
    parser.add_argument("--fill", type=float, default=0.4, help="share of each therapist's slots already booked")
    parser.add_argument("--workers", type=int, default=harness.default_workers(), help="gunicorn sync workers")
    parser.add_argument("--timeout", type=float, default=30, help="seconds before a request counts as an error")
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL))
    common.add_database_options(parser)
    parser.set_defaults(database_url=os.environ.get("BENCH_LOAD_DATABASE_URL", DEFAULT_DATABASE_URL))
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    args = parse_args()
    missing = harness.tools_missing()
    if missing:
        sys.exit(missing)
    work_dir = Path(tempfile.mkdtemp(prefix="hipclinic-load-"))
    common.recreate_database(args.database_url)
    common.setup_django(args.database_url, work_dir / "setup-var")
    queue = f"load-{uuid.uuid4().hex[:10]}"
    try:
        from django.conf import settings

        from tests.load.seed import seed

        _, seconds = common.timed(common.migrate)
        common.line("migrate", f"{seconds:.1f} s")
        env = harness.server_env(database_url=args.database_url, broker_url=args.broker_url, queue=queue,
                                 var_dir=work_dir / "var")
        collecting = harness.start_collectstatic(env, work_dir / "collectstatic.log")
        config, seconds = common.timed(
            seed, password="load-bench-" + uuid.uuid4().hex, desk_users=args.users, api_users=args.users,
            therapists=args.therapists, patients=args.patients, weeks_back=args.weeks_back,
            weeks_ahead=args.weeks_ahead, fill=args.fill,
        )
        config["time_zone"] = settings.CLINIC_TIME_ZONE
        common.line("seed", f"{config['patients']:,} patients, {config['appointments']:,} appointments, "
                            f"{args.therapists} therapists in {seconds:.1f} s")
        harness.wait_ok(collecting, "collectstatic", work_dir / "collectstatic.log")
        print(common.machine(), flush=True)
        log_path = work_dir / "gunicorn.log"
        with harness.gunicorn(env, port=free_port(), workers=args.workers, log_path=log_path) as url:
            common.line("gunicorn", f"{args.workers} sync workers at {url}")
            started = time.monotonic()
            result = harness.run_locust(host=url, config=config, work_dir=work_dir, users=args.users,
                                        spawn_rate=args.spawn_rate, measure_seconds=args.measure,
                                        timeout=args.timeout)
            common.line("locust", f"{time.monotonic() - started:.0f} s in all")
        harness.read_server_log(result, log_path)
        print()
        for text in harness.figures(result, users=args.users, measure_seconds=args.measure):
            print(text)
        print("\ntime inside Django per route (server's request log, warm-up included):")
        timings = harness.server_timings(log_path)
        for key, (count, p50, p95) in sorted(timings.items(), key=lambda item: -item[1][2]):
            common.line(f"  {key}", f"{count:6d} requests, p50 {p50:5d} ms, p95 {p95:5d} ms", width=70)
        problems = result.warm_up_failures + result.aggregated.failures + len(result.exceptions)
        problems += result.server_statuses["5xx"] + len(result.server_errors)
        if problems:
            print("\nERRORS:\n" + result.problems())
        print(f"\nfiles: {work_dir}")
        return 1 if problems else 0
    finally:
        harness.forget_queue(args.broker_url, queue)
        shutil.rmtree(work_dir / "var", ignore_errors=True)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            common.drop_database(args.database_url)


if __name__ == "__main__":
    sys.exit(main())
