"""The load test at full size: Locust against gunicorn and PostgreSQL, as tests/test_load.py
runs it in CI, with more users, more data and a longer measured run.

    .venv/bin/python bench/load.py                                  # 50 users, 5 minutes, 30,000 patients
    .venv/bin/python bench/load.py --users 200 --measure 600 --patients 100000
    .venv/bin/python bench/load.py --users 50 --measure 30 --patients 3000   # what CI runs
    .venv/bin/python bench/load.py --users 50,100,150 --measure 120 --patients 100000 --watchers 10

It drops and recreates its own database (``hipclinic_bench_load`` unless --database-url says
otherwise; the name must start with ``hipclinic_bench``), migrates it, fills it with
``tests/load/seed.py``, collects the static files, starts gunicorn with production settings
on a free loopback port and runs ``tests/load/locustfile.py`` headless against it
(``tests/load/harness.py`` says which two settings differ from production, and why). It
prints the warm-up (every user signing in), p50/p95 per kind of request, the measured run as
a whole (requests per second, error rate, bookings made and refused for an overlap), and
the time each route spent inside Django according to the server's own request log.

``--users 50,100,150`` runs the scenario once per user count, one after the other on the same
server and data, then prints a table of the steps and the largest user count whose p95 was
at most 500 ms with no errors. ``--watchers K`` then measures what a storm of sign-ins does to
everyone else: K signed-in receptionists keep opening desk pages, first alone, then while
``--sign-ins N`` people sign in at the same moment (each a PBKDF2 hash at Django's
iterations); it prints the watchers' p50/p95 without the storm and during it.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from tests.load import harness

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hipclinic_bench_load"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/9"
P95_LIMIT_MS = 500  # the largest user count reported is the last step at or under this p95, with no errors
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def user_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("one or more positive numbers, e.g. 50 or 50,100,150")
    return sorted(counts)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=user_counts, default=[50],
                        help="concurrent simulated users (3 desk : 2 API); a list such as 50,100,150 runs each in turn")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    parser.add_argument("--measure", type=float, default=300, help="seconds of measured run after the sign-ins")
    parser.add_argument("--patients", type=int, default=30_000)
    parser.add_argument("--therapists", type=int, default=20)
    parser.add_argument("--weeks-back", type=int, default=8, help="weeks of past appointments")
    parser.add_argument("--weeks-ahead", type=int, default=12, help="weeks of booked appointments")
    parser.add_argument("--fill", type=float, default=0.4, help="share of each therapist's slots already booked")
    parser.add_argument("--workers", type=int, default=harness.default_workers(), help="gunicorn sync workers")
    parser.add_argument("--timeout", type=float, default=30, help="seconds before a request counts as an error")
    parser.add_argument("--watchers", type=int, default=0,
                        help="signed-in receptionists opening desk pages before and during a storm of sign-ins")
    parser.add_argument("--sign-ins", type=int, default=50, help="sign-ins started at once (with --watchers)")
    parser.add_argument("--sign-in-workers", type=int, default=0,
                        help="with --watchers, run the storm a second time against a separate gunicorn of this "
                             "many workers at nice 10 serving the sign-ins (README, Running in production)")
    parser.add_argument("--watch-seconds", type=float, default=20,
                        help="seconds the watchers run alone before the storm (with --watchers)")
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
    most = max(args.users)
    try:
        from django.conf import settings

        from tests.load.seed import seed

        _, seconds = common.timed(common.migrate)
        common.line("migrate", f"{seconds:.1f} s")
        env = harness.server_env(database_url=args.database_url, broker_url=args.broker_url, queue=queue,
                                 var_dir=work_dir / "var")
        collecting = harness.start_collectstatic(env, work_dir / "collectstatic.log")
        desk_accounts = max(most, args.watchers + args.sign_ins if args.watchers else 0)
        config, seconds = common.timed(
            seed, password="load-bench-" + uuid.uuid4().hex, desk_users=desk_accounts, api_users=most,
            therapists=args.therapists, patients=args.patients, weeks_back=args.weeks_back,
            weeks_ahead=args.weeks_ahead, fill=args.fill,
        )
        config["time_zone"] = settings.CLINIC_TIME_ZONE
        common.line("seed", f"{config['patients']:,} patients, {config['appointments']:,} appointments, "
                            f"{args.therapists} therapists in {seconds:.1f} s")
        harness.wait_ok(collecting, "collectstatic", work_dir / "collectstatic.log")
        print(common.machine(), flush=True)
        log_path = work_dir / "gunicorn.log"
        steps = []
        with harness.gunicorn(env, port=free_port(), workers=args.workers, log_path=log_path) as url:
            common.line("gunicorn", f"{args.workers} sync workers at {url}")
            for users in args.users:
                steps.append(run_step(args, url, config, work_dir, log_path, users))
            storms = []
            if args.watchers:
                storms.append(("the same gunicorn", sign_in_storm(
                    url, config, watchers=args.watchers, sign_ins=args.sign_ins,
                    quiet_seconds=args.watch_seconds, timeout=args.timeout)))
            if args.watchers and args.sign_in_workers:
                with harness.gunicorn(env, port=free_port(), workers=args.sign_in_workers, nice=10,
                                      log_path=work_dir / "gunicorn-sign-in.log") as sign_in_url:
                    common.line("sign-in gunicorn", f"{args.sign_in_workers} sync workers at nice 10, {sign_in_url}")
                    storms.append((f"a separate gunicorn ({args.sign_in_workers} workers, nice 10)", sign_in_storm(
                        url, config, watchers=args.watchers, sign_ins=args.sign_ins,
                        quiet_seconds=args.watch_seconds, timeout=args.timeout, sign_in_url=sign_in_url)))
        if len(steps) > 1:
            print_steps(steps, args.measure)
        for where, storm in storms:
            print_storm(storm, watchers=args.watchers, sign_ins=args.sign_ins, where=where)
        print(f"\nfiles: {work_dir}")
        # The smallest step is the one that must pass; larger ones find the limit, errors and all.
        return 1 if steps[0][2] else 0
    finally:
        harness.forget_queue(args.broker_url, queue)
        shutil.rmtree(work_dir / "var", ignore_errors=True)
        if not args.keep:
            from django.db import connections

            connections.close_all()
            common.drop_database(args.database_url)


def run_step(args, url: str, config: dict, work_dir: Path, log_path: Path, users: int):
    """One measured run with ``users`` simulated users; prints its figures. Returns (users, result, problems)."""
    step_dir = work_dir / f"users-{users}"
    step_dir.mkdir()
    offset = harness.log_size(log_path)
    print(f"\n--- {users} users, {args.measure:.0f} s measured (load average before: {load_average()})", flush=True)
    started = time.monotonic()
    result = harness.run_locust(host=url, config=config, work_dir=step_dir, users=users,
                                spawn_rate=args.spawn_rate, measure_seconds=args.measure, timeout=args.timeout)
    common.line("locust", f"{time.monotonic() - started:.0f} s in all")
    harness.read_server_log(result, log_path, offset)
    for text in harness.figures(result, users=users, measure_seconds=args.measure):
        print(text)
    print("\ntime inside Django per route (server's request log, warm-up included):")
    timings = harness.server_timings(log_path, offset)
    for key, (count, p50, p95) in sorted(timings.items(), key=lambda item: -item[1][2]):
        common.line(f"  {key}", f"{count:6d} requests, p50 {p50:5d} ms, p95 {p95:5d} ms", width=70)
    problems = result.warm_up_failures + result.aggregated.failures + len(result.exceptions)
    problems += result.server_statuses["5xx"] + len(result.server_errors)
    if problems:
        print("\nERRORS:\n" + result.problems()[:6000])
    print(f"load average after: {load_average()}", flush=True)
    return users, result, problems


def print_steps(steps, measure: float) -> None:
    print(f"\nusers  requests  per s   p50 ms   p95 ms   p99 ms  errors  (measured {measure:.0f} s each)")
    for users, result, problems in steps:
        total = result.aggregated
        print(f"{users:5d}  {total.requests:8d}  {total.rps:5.1f}  {total.p50:7.0f}  {total.p95:7.0f}  "
              f"{total.p99:7.0f}  {problems:6d}")
    passing = [users for users, result, problems in steps if not problems and result.aggregated.p95 <= P95_LIMIT_MS]
    print(f"largest user count with p95 <= {P95_LIMIT_MS} ms and 0 errors: "
          f"{max(passing) if passing else f'none of {[users for users, _, _ in steps]}'}")


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


# ---------------------------------------------------------------------------- sign-in storm


def _session(url: str):
    import requests

    class Session(requests.Session):
        """Sends the Secure cookies (session, CSRF) over loopback, as a browser on the HTTPS side of
        the proxy would. (requests copies the jar into one with the default policy for each request,
        so a cookie policy would not do: the Secure flag is dropped as each answer sets a cookie.)"""

        def request(self, *args, **kwargs):
            answer = super().request(*args, **kwargs)
            for cookie in self.cookies:
                cookie.secure = False
            return answer

    session = Session()
    session.headers["X-Forwarded-Proto"] = "https"  # as the locustfile: the client plays the TLS proxy
    return session


def _sign_in(session, url: str, username: str, password: str, timeout: float) -> bool:
    """The login page, then the POST with its CSRF token; True when it answered with the redirect home."""
    return _sign_in_answer(session, url, username, password, timeout) == "302 /"


def _sign_in_answer(session, url: str, username: str, password: str, timeout: float) -> str:
    page = session.get(f"{url}/accounts/login/", allow_redirects=False, timeout=timeout)
    token = CSRF_INPUT.search(page.text)
    if page.status_code != 200 or not token:
        return f"login page {page.status_code}"
    answer = session.post(f"{url}/accounts/login/", allow_redirects=False, timeout=timeout,
                          headers={"Origin": url.replace("http://", "https://", 1)},
                          data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password})
    return f"{answer.status_code} {answer.headers.get('Location', '')}"


def sign_in_storm(url: str, config: dict, *, watchers: int, sign_ins: int, quiet_seconds: float,
                  timeout: float, sign_in_url: str | None = None) -> dict:
    """``watchers`` signed-in receptionists open desk pages (1 s think time on average), alone for
    ``quiet_seconds``, then while ``sign_ins`` others sign in at the same moment (at ``sign_in_url``
    when the sign-ins have a server of their own, as a proxy would route ``/accounts/login/``)."""
    sign_in_url = sign_in_url or url
    import requests

    accounts = config["desk_users"]
    password = config["password"]
    today = date.today()
    pages = ["/desk/", *(f"/desk/day/{today + timedelta(days=days)}/" for days in (1, 2, 3)),
             *(f"/desk/patients/?q={prefix}" for prefix in config["search_terms"]["prefixes"][:20])]
    sessions = []
    for username in accounts[-watchers:]:
        session = _session(url)
        answer = _sign_in_answer(session, url, username, password, timeout)
        if answer != "302 /":
            sys.exit(f"watcher {username} could not sign in: {answer}")
        sessions.append(session)
    requests_seen: list[tuple[float, float, bool]] = []  # (started, seconds, answered 200)
    stop = threading.Event()

    def watch(session):
        rng = random.Random()
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = session.get(url + rng.choice(pages), allow_redirects=False, timeout=timeout).status_code == 200
            except requests.RequestException:
                ok = False
            requests_seen.append((started, time.monotonic() - started, ok))
            stop.wait(rng.uniform(0.5, 1.5))

    sign_in_times: list[tuple[float, bool]] = []
    gate = threading.Barrier(sign_ins)

    def sign_in(username):
        session = _session(sign_in_url)
        gate.wait()
        started = time.monotonic()
        try:
            ok = _sign_in(session, sign_in_url, username, password, timeout)
        except requests.RequestException:
            ok = False
        sign_in_times.append((time.monotonic() - started, ok))

    threads = [threading.Thread(target=watch, args=(session,), daemon=True) for session in sessions]
    for thread in threads:
        thread.start()
    time.sleep(quiet_seconds)
    storm_start = time.monotonic()
    storm = [threading.Thread(target=sign_in, args=(accounts[n],), daemon=True) for n in range(sign_ins)]
    for thread in storm:
        thread.start()
    for thread in storm:
        thread.join()
    storm_end = time.monotonic()
    stop.set()
    for thread in threads:
        thread.join()
    quiet = [row for row in requests_seen if row[0] < storm_start and row[0] + row[1] < storm_start]
    during = [row for row in requests_seen if storm_start <= row[0] < storm_end]
    return {"quiet": quiet, "during": during, "sign_ins": sign_in_times, "seconds": storm_end - storm_start}


def _figures(rows, noun: str = "requests") -> str:
    if not rows:
        return "no requests"
    values = sorted(seconds * 1000 for seconds, *_ in rows)
    failed = sum(1 for *_, ok in rows if not ok)
    return (f"{len(values):4d} {noun}, p50 {harness.nearest_rank(values, 50):6.0f} ms, "
            f"p95 {harness.nearest_rank(values, 95):6.0f} ms, max {values[-1]:6.0f} ms, {failed} errors")


def print_storm(storm: dict, *, watchers: int, sign_ins: int, where: str) -> None:
    quiet = [(seconds, ok) for _, seconds, ok in storm["quiet"]]
    during = [(seconds, ok) for _, seconds, ok in storm["during"]]
    print(f"\nsign-in storm on {where}: {sign_ins} sign-ins started at once (login page + POST, PBKDF2), all done in "
          f"{storm['seconds']:.1f} s: {_figures(storm['sign_ins'], 'sign-ins')}")
    print(f"  {watchers} watchers' desk pages without the storm: {_figures(quiet)}")
    print(f"  {watchers} watchers' desk pages during the storm:  {_figures(during)}")
    if quiet and during:
        p95 = [harness.nearest_rank(sorted(seconds for seconds, _ in rows), 95) for rows in (quiet, during)]
        print(f"  watchers' p95 during / without the storm: {common.ratio(p95[1], p95[0])}")


if __name__ == "__main__":
    sys.exit(main())
