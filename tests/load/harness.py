"""The load test's moving parts: collectstatic, gunicorn with production settings on
loopback, Locust headless against it, and Locust's CSV read back into figures.

Used by ``tests/test_load.py`` (small, in CI) and ``bench/load.py`` (full size, by hand).
The scenario itself is ``tests/load/locustfile.py``; its data comes from ``tests/load/seed.py``.

The server runs as production does (README, "Running in production"): ``DEBUG`` off,
``SECRET_KEY`` and ``ALLOWED_HOSTS`` set, static files collected and served by WhiteNoise,
PostgreSQL, sync gunicorn workers. Two environment values differ, both documented
settings, and why:

* ``BEHIND_TLS_PROXY=1``: there is no TLS on loopback, so the client plays the clinic's TLS
  proxy and sends ``X-Forwarded-Proto: https``. Every HTTPS setting stays on (redirect to
  HTTPS, Secure cookies, HSTS, the strict CSRF origin check).
* ``API_TOKEN_RATE``: the token endpoint's limit is per client address, and on loopback every
  simulated integration shares 127.0.0.1; a clinic's integrations would come from their own.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
REFUSED = " (refused: overlap)"  # the suffix the locustfile gives bookings refused for an overlap
# The warm-up (each simulated user signs in and opens its first page) and the measured run:
# every kind of request of each must have run for a load run to count.
WARM_UP_KINDS = {"desk: login page", "desk: sign in", "desk: home", "static: stylesheet", "api: token"}
MEASURED_KINDS = {
    "desk: home", "desk: day schedule", "desk: patient search", "desk: patient page", "desk: slot look-up",
    "desk: book",
    "api: patient search", "api: patient", "api: patient's appointments", "api: therapist's week", "api: therapists",
    "api: waitlist", "api: slots", "api: book",
}
WARM_UP_LIMIT = 180  # as in the locustfile: the longest the sign-ins may take
# One line per request from apps.ops.middleware.RequestLogMiddleware: method, route, status, duration.
REQUEST_LINE = re.compile(r"hipclinic\.request (\w+) (\S+) (\d{3}) (\d+)ms")


def tools_missing() -> str | None:
    for module, package in (("locust", "locust"), ("gunicorn", "gunicorn")):
        if importlib.util.find_spec(module) is None:
            return f"needs {package} (pip install -r requirements-dev.txt)"
    return None


def default_workers() -> int:
    """gunicorn's advice for sync workers: (2 x cores) + 1."""
    return 2 * (os.cpu_count() or 1) + 1


# ---------------------------------------------------------------------------- the server


def server_env(*, database_url: str, broker_url: str, queue: str, var_dir: Path, **extra: str) -> dict:
    drop = {"DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG", "EMAIL_URL"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env.update({
        "DJANGO_SETTINGS_MODULE": "hipclinic.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_TLS_PROXY": "1",
        "API_TOKEN_RATE": "1000/min",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_DEFAULT_QUEUE": queue,  # booking confirmations queue here; no worker reads it
        "HIPCLINIC_VAR_DIR": str(var_dir),
        "LOG_LEVEL": "INFO",  # the request log lines: server-side duration per route
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def forget_queue(broker_url: str, queue: str) -> None:
    """Delete the run's queue from a Redis broker: the confirmations nobody will send, and Kombu's bindings."""
    if broker_url.startswith("redis"):
        import redis

        redis.Redis.from_url(broker_url).delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def start_collectstatic(env: dict, log_path: Path) -> subprocess.Popen:
    """``collectstatic`` as production runs it, in the background while the data is seeded.

    Brotli is in the development virtualenv only because Locust's HTTP client needs it;
    production installs requirements.txt, which has no Brotli. WhiteNoise compresses with
    Brotli whenever it can import it, at a minute of CPU here against seconds for gzip, so
    the import is blocked and the files are what production would serve.
    """
    code = ("import sys; sys.modules['brotli'] = None; "
            "from django.core.management import execute_from_command_line; "
            "execute_from_command_line(['manage.py', 'collectstatic', '--noinput', '--verbosity', '0'])")
    with log_path.open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ok(process: subprocess.Popen, what: str, log_path: Path, timeout: float = 300) -> None:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{what} took more than {timeout:.0f} s") from None
    if code != 0:
        raise AssertionError(f"{what} failed ({code}):\n{log_path.read_text(errors='replace')[-3000:]}")


@contextmanager
def gunicorn(env: dict, *, port: int, workers: int, log_path: Path, timeout: float = 60, nice: int = 0):
    """gunicorn serving hipclinic.wsgi on 127.0.0.1:port; yields the base URL once /healthz answers 200.

    ``nice`` above 0 starts it at a lower CPU priority (``nice -n``), as a pool kept for sign-ins.
    """
    log = log_path.open("wb")
    process = subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []),
         sys.executable, "-m", "gunicorn", "hipclinic.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--access-logfile", "/dev/null", "--error-logfile", "-",
         "--no-control-socket"],  # gunicorn 27's default control socket is one path for all of a user's servers
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn exited ({process.returncode}):\n{read_tail(log_path)}")
            if healthy(url):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{read_tail(log_path)}")
            time.sleep(0.3)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # graceful: workers finish their request
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


def healthy(url: str) -> bool:
    request = urllib.request.Request(f"{url}/healthz", headers={"X-Forwarded-Proto": "https"})  # noqa: S310 - http
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - our own loopback server
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def read_tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


# ---------------------------------------------------------------------------- Locust


@dataclass
class Kind:
    """One row of Locust's stats CSV: a kind of request (or "Aggregated")."""

    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    max: float
    rps: float

    @classmethod
    def from_row(cls, row: dict) -> Kind:
        def number(column: str) -> float:
            value = row[column]
            return float(value) if value not in ("", "N/A") else 0.0

        return cls(name=row["Name"], requests=int(row["Request Count"]), failures=int(row["Failure Count"]),
                   p50=number("50%"), p95=number("95%"), p99=number("99%"), max=number("Max Response Time"),
                   rps=number("Requests/s"))


@dataclass
class LoadResult:
    kinds: dict[str, Kind]  # the measured run, by kind of request
    aggregated: Kind
    warm_up: dict  # the sign-ins: seconds, kinds (requests, failures, p50, p95, max), errors
    failures: list[dict]  # Locust's failures CSV (measured run): method, name, error, occurrences
    exceptions: list[dict]  # errors in the scenario's own code, whenever they happened
    returncode: int
    output: str
    server_statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    @property
    def bookings(self) -> tuple[int, int]:
        """(booked, refused for an overlap) over the desk pages and the API."""
        booked = sum(self.kinds[name].requests - self.kinds[name].failures
                     for name in ("desk: book", "api: book") if name in self.kinds)
        refused = sum(kind.requests for name, kind in self.kinds.items() if name.endswith(REFUSED))
        return booked, refused

    @property
    def error_rate(self) -> float:
        return self.aggregated.failures / self.aggregated.requests if self.aggregated.requests else 0.0

    @property
    def warm_up_failures(self) -> int:
        return sum(kind["failures"] for kind in self.warm_up.get("kinds", {}).values())

    def problems(self) -> str:
        """Everything a reader needs when the run had errors."""
        lines = [f"warm-up {row['method']} {row['name']}: {row['error']} x{row['occurrences']}"
                 for row in self.warm_up.get("errors", [])]
        lines += [f"{row['Method']} {row['Name']}: {row['Error']} x{row['Occurrences']}" for row in self.failures]
        lines += [f"exception x{row['Count']}: {row['Message']}\n{row['Traceback']}" for row in self.exceptions]
        lines += self.server_errors[:40]
        return "\n".join(lines) or self.output[-3000:]


def run_locust(*, host: str, config: dict, work_dir: Path, users: int, spawn_rate: float, measure_seconds: float,
               timeout: float = 30) -> LoadResult:
    """Run the scenario headless: the warm-up, then ``measure_seconds`` of measured run."""
    config_path = work_dir / "load-config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    prefix = work_dir / "locust"
    warm_up_path = work_dir / "locust-warm-up.json"
    env = {**os.environ, "LOAD_CONFIG": str(config_path), "LOAD_TIMEOUT": str(timeout),
           "LOAD_MEASURE_SECONDS": str(measure_seconds), "LOAD_WARM_UP_FILE": str(warm_up_path),
           "PYTHONUNBUFFERED": "1"}
    limit = WARM_UP_LIMIT + measure_seconds + 30  # the locustfile ends the run; this is the safety net
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--users", str(users),
               "--spawn-rate", str(spawn_rate), "--run-time", f"{limit:.0f}s", "--host", host, "--csv", str(prefix),
               "--only-summary", "--loglevel", "WARNING"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit + 60)
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists() or not warm_up_path.exists():
        raise AssertionError(f"Locust wrote no statistics ({done.returncode}):\n{done.stdout[-2000:]}\n"
                             f"{done.stderr[-4000:]}")
    rows = read_csv(stats_path)
    # Kinds seen only in the warm-up stay in the CSV with no requests after the reset.
    kinds = {row["Name"]: Kind.from_row(row) for row in rows
             if row["Name"] != "Aggregated" and row["Request Count"] != "0"}
    aggregated = next(Kind.from_row(row) for row in rows if row["Name"] == "Aggregated")
    warm_up = json.loads(warm_up_path.read_text(encoding="utf-8"))
    return LoadResult(kinds=kinds, aggregated=aggregated, warm_up=warm_up,
                      failures=read_csv(Path(f"{prefix}_failures.csv")),
                      exceptions=read_csv(Path(f"{prefix}_exceptions.csv")), returncode=done.returncode,
                      output=done.stdout + done.stderr)


def log_size(log_path: Path) -> int:
    """Where the server's log ends now: pass it as ``offset`` to read only what a later run adds."""
    return log_path.stat().st_size if log_path.exists() else 0


def _log_text(log_path: Path, offset: int) -> str:
    if not log_path.exists():
        return ""
    with log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def read_server_log(result: LoadResult, log_path: Path, offset: int = 0) -> LoadResult:
    """Count the server's answers by status, and keep its 5xx lines and tracebacks (from ``offset`` on)."""
    text = _log_text(log_path, offset)
    for method, route, status, _ms in REQUEST_LINE.findall(text):
        result.server_statuses[status[0] + "xx"] += 1
        if status.startswith("5"):
            result.server_errors.append(f"server: {method} {route} {status}")
    result.server_errors += [line for line in text.splitlines()
                             if "Traceback" in line or "[CRITICAL]" in line or "WORKER TIMEOUT" in line]
    return result


def server_timings(log_path: Path, offset: int = 0) -> dict[str, tuple[int, int, int]]:
    """Per route and status, from the server's request log: (requests, p50 ms, p95 ms) spent inside Django.

    Against Locust's times (which add the wait for a free worker), they tell a slow page
    from a queue.
    """
    durations: dict[str, list[int]] = {}
    text = _log_text(log_path, offset)
    for method, route, status, ms in REQUEST_LINE.findall(text):
        durations.setdefault(f"{method} {route} {status}", []).append(int(ms))
    return {key: (len(values), nearest_rank(values, 50), nearest_rank(values, 95))
            for key, values in durations.items()}


def nearest_rank(values: list[int], percent: int) -> int:
    ordered = sorted(values)
    return ordered[max(1, -(-percent * len(ordered) // 100)) - 1]


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def figures(result: LoadResult, *, users: int, measure_seconds: float) -> list[str]:
    """Lines for the figures section: the sign-ins, each kind of request, then the measured run as a whole."""
    warm_up = result.warm_up
    signed_in = [f"{name} p50 {kind['p50']:.0f} ms, p95 {kind['p95']:.0f} ms"
                 for name, kind in sorted(warm_up.get("kinds", {}).items()) if name in ("desk: sign in", "api: token")]
    lines = [f"load warm-up: {users} users signed in within {warm_up.get('seconds') or 0:.1f} s "
             f"({'; '.join(signed_in)}; {result.warm_up_failures} errors)"]
    for name in sorted(result.kinds):
        kind = result.kinds[name]
        lines.append(f"load {name}: p50 {kind.p50:.0f} ms, p95 {kind.p95:.0f} ms, max {kind.max:.0f} ms "
                     f"({kind.requests} requests, {kind.failures} errors)")
    total = result.aggregated
    booked, refused = result.bookings
    lines.append(
        f"load, {users} concurrent users for {measure_seconds:.0f} s: {total.requests} requests at {total.rps:.1f}/s, "
        f"p50 {total.p50:.0f} ms, p95 {total.p95:.0f} ms, p99 {total.p99:.0f} ms, errors {total.failures} "
        f"({result.error_rate:.2%}); bookings {booked} made, {refused} refused for an overlap (an expected answer)"
    )
    return lines
