"""What the benchmarks in bench/ share: their own database, Django set up as in production,
the machine they ran on, and timing with median and p95.

Not a benchmark itself; ``reminders.py`` predates it and keeps its own copies.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hipclinic_bench"


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database to DROP and recreate; its name must start with hipclinic_bench",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _admin_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql", path="/postgres"))


def recreate_database(url: str) -> None:
    import psycopg

    name = database_name(url)
    if not name.startswith("hipclinic_bench"):
        sys.exit(f"refusing to drop {name!r}: the bench database's name must start with hipclinic_bench")
    with psycopg.connect(_admin_url(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def setup_django(database_url: str, var_dir: Path) -> None:
    """Django as in production (DEBUG off: no query log, templates cached), on the bench database."""
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "DATABASE_URL": database_url, "HIPCLINIC_VAR_DIR": str(var_dir),
        "DEBUG": "0", "SECRET_KEY": "bench-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "testserver,localhost",
        "DJANGO_SETTINGS_MODULE": "hipclinic.settings",
    })
    import django

    django.setup()
    logging.getLogger("hipclinic").setLevel(logging.WARNING)  # a line per request


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def collect_static() -> None:
    """Static files into the var dir, as a production build does (pages need the manifest with DEBUG off)."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


def signed_in(client, user):
    """``client`` signed in as ``user`` as the sign-in page leaves it: with the one-time code given
    when their role signs in with two-factor (an authenticator is made for them if they have none)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from apps.accounts import two_factor

    client.force_login(user)
    if two_factor.two_factor_required(user):
        device = two_factor.authenticator(user) or TOTPDevice.objects.create(user=user, confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def machine() -> str:
    """Cores, memory, CPU model, Python and PostgreSQL versions: printed above every table."""
    from django.db import connection

    cpu = "unknown CPU"
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kib = int(next(row for row in meminfo if row.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown memory"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{os.cpu_count()} cores ({cpu}), {memory}, Python {platform.python_version()}, "
            f"PostgreSQL {postgres} (shared_buffers {shared_buffers}); load average before the run {load}")


def timed(function: Callable, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


class Timings:
    """Seconds of N repetitions (after warm-up runs that are not kept)."""

    def __init__(self, values: list[float]):
        self.values = sorted(values)

    @classmethod
    def of(cls, function: Callable[[], object], *, repeat: int, warmup: int = 2) -> Timings:
        for _ in range(warmup):
            function()
        values = []
        for _ in range(repeat):
            started = time.perf_counter()
            function()
            values.append(time.perf_counter() - started)
        return cls(values)

    @classmethod
    def interleaved(cls, functions: dict[str, Callable[[], object]], *, repeat: int, warmup: int = 2) -> dict:
        """Each function ``repeat`` times, taking turns, so that a change in the machine's load
        falls on all of them alike."""
        for _ in range(warmup):
            for function in functions.values():
                function()
        values: dict[str, list[float]] = {name: [] for name in functions}
        for _ in range(repeat):
            for name, function in functions.items():
                started = time.perf_counter()
                function()
                values[name].append(time.perf_counter() - started)
        return {name: cls(times) for name, times in values.items()}

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        # Nearest rank: the smallest value at or above 95 % of the runs.
        rank = max(1, -(-95 * len(self.values) // 100))
        return self.values[rank - 1]

    def ms(self) -> str:
        return f"median {self.median * 1000:8.2f} ms, p95 {self.p95 * 1000:8.2f} ms"


def line(label: str, value: str, width: int = 62) -> None:
    print(f"{label:<{width}} {value}", flush=True)


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "n/a"
