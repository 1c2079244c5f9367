"""Real parts for tests: a Celery worker process, an SMTP server on loopback, Chromium.

Each is a plain function or class, so that tests (through the fixtures in conftest.py) and
the benchmarks in bench/ use the same ones.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# CI sets this: a test that needs a service which is missing fails instead of skipping.
REQUIRE_SERVICES = os.environ.get("HIPCLINIC_REQUIRE_SERVICES", "") == "1"


def unavailable(reason: str):
    """Skip (on a laptop) or fail (in CI) because a real part is missing."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; HIPCLINIC_REQUIRE_SERVICES=1 turns this skip into a failure", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------- availability


def postgres_missing() -> str | None:
    if connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/hipclinic"
    return None


def redis_missing() -> str | None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        return "needs Redis as broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return f"Redis at CELERY_BROKER_URL does not answer ({type(error).__name__})"
    return None


def browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package (pip install -r requirements-dev.txt)"
    return None


# ---------------------------------------------------------------------------- Celery worker


def database_url_for_subprocess() -> str:
    """The URL of the database this test process is using (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# A worker starts in 2-4 s on a quiet machine; under a loaded CI machine's other runs it
# can take many times that. The wait ends as soon as it is ready.
READY_TIMEOUT = 120.0


@dataclass
class WorkerProcess:
    """A ``celery -A hipclinic worker`` child process on its own queue."""

    queue: str
    broker_url: str
    var_dir: Path
    extra_env: dict = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    concurrency: int = 1

    def env(self) -> dict:
        env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": database_url_for_subprocess(),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_DEFAULT_QUEUE": self.queue,
            "HIPCLINIC_VAR_DIR": str(self.var_dir),
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",  # the ready line and the outbox lines the tests read are INFO
        }
        env.update(self.extra_env)
        return env

    def start(self, *, concurrency: int = 1) -> WorkerProcess:
        self.concurrency = concurrency
        self.log_path = self.var_dir / f"worker-{self.queue}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - kept open for the child's life
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hipclinic", "worker", "--loglevel", "INFO",
             "--queues", self.queue, "--concurrency", str(concurrency), "--without-gossip",
             "--without-mingle", "--hostname", f"{self.queue}@%h"],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def wait_until_ready(self, *, timeout: float = READY_TIMEOUT) -> WorkerProcess:
        """Return once the worker consumes from its queue; fail with its output if it exits or never does.

        Celery logs "<hostname> ready." right after the consumer has declared its queue and
        started consuming. On Redis, a task published before that can be routed to no queue
        at all and lost, so nothing is published to the worker until then.
        """
        ready = re.compile(rf"{re.escape(self.queue)}@\S+ ready\.$", re.MULTILINE)
        deadline = time.monotonic() + timeout
        while not ready.search(self.output()):
            if self.process.poll() is not None:
                raise AssertionError(f"the worker on {self.queue} exited ({self.process.returncode}) before it was "
                                     f"ready; its output:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker on {self.queue} was not ready after {timeout:.0f} s; "
                                     f"its output:\n{self.output()}")
            time.sleep(0.1)
        return self

    def drain(self, *, using: str = "default", timeout: float = 60.0) -> None:
        """Return once the worker has run every task published to its queue before this call.

        It runs one task at a time (concurrency 1, prefetch 1) in the order they were
        queued, so a heartbeat published now runs after all of them: once its row exists,
        every e-mail they sent has reached the SMTP server. A test that shows that nothing
        more arrives waits for this instead of sleeping for a guessed time. ``using`` is
        the database alias the worker writes to.
        """
        from apps.ops.models import Heartbeat
        from hipclinic.celery import app

        assert self.concurrency == 1, "drain() relies on one task at a time"
        name = f"drain-{uuid.uuid4().hex[:12]}"
        app.send_task("apps.ops.tasks.record_heartbeat", kwargs={"name": name}, queue=self.queue)
        wait_for(lambda: Heartbeat.objects.using(using).filter(name=name).exists(), timeout=timeout,
                 message=f"the worker to run everything queued before {name}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (main process and pool children), as kill -9 would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")


@contextmanager
def celery_worker(broker_url: str | None = None, **extra_env):
    """Run a worker on a fresh queue; route this process's tasks to it meanwhile."""
    from hipclinic.celery import app

    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-worker-"))
    queue = f"test-{uuid.uuid4().hex[:10]}"
    broker = broker_url or settings.CELERY_BROKER_URL
    worker = WorkerProcess(queue=queue, broker_url=broker, var_dir=var_dir, extra_env=extra_env).start()
    saved = app.conf.task_default_queue, app.conf.task_always_eager
    app.conf.task_default_queue, app.conf.task_always_eager = queue, False
    try:
        worker.wait_until_ready()
        yield worker
    finally:
        app.conf.task_default_queue, app.conf.task_always_eager = saved
        worker.stop()
        if sys.exc_info()[0] is not None:
            print(f"--- worker output ({worker.queue}) ---\n{worker.output()}")
        shutil.rmtree(var_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- the hour where the patient lives


def zone_where_it_is(local: clock, *, now: datetime | None = None) -> ZoneInfo:
    """The fixed-offset zone (``Etc/GMT-14`` ... ``Etc/GMT+12``) in which it is now closest to ``local`` o'clock.

    A worker keeps the machine's real clock, so a test that uses one cannot move its time;
    it can choose where its patient lives instead, and so decide whether it is day or
    night for them whatever the hour the test runs. The offsets are whole hours: the
    local time is within 30 minutes of ``local``.
    """
    now = now or timezone.now()
    utc_minutes = now.astimezone(ZoneInfo("UTC")).hour * 60 + now.minute
    ahead = (local.hour * 60 + local.minute - utc_minutes + 720) % 1440 - 720  # -720 ... 719 minutes
    hours = round(ahead / 60)
    # POSIX signs: Etc/GMT-14 is fourteen hours ahead of UTC.
    return ZoneInfo("Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}")


# ---------------------------------------------------------------------------- SMTP


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SMTPSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts.

    ``refuse_next(n)`` makes it answer the next n messages with a temporary failure
    (451), for retry tests. ``delay`` (seconds) holds every message that long before
    accepting it, like a slow relay; ``hold_after(n)`` holds every message after the n-th
    accepted one until ``release()``. A client that disconnects while its message is held
    (a killed worker) gets no answer and its message is not kept. ``in_flight`` counts
    messages being held at this moment.
    """

    def __init__(self, *, delay: float = 0.0):
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.connections: set[tuple] = set()
        self.delay = delay
        self.in_flight = 0
        self._refusals = 0
        self._hold_after: int | None = None
        self._lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        if self.delay or self._holding():
            self.in_flight += 1
            try:
                # Both waits are cancelled by aiosmtpd if the client goes away.
                await asyncio.sleep(self.delay)
                while self._holding():
                    await asyncio.sleep(0.01)
            finally:
                self.in_flight -= 1
        with self._lock:
            self.connections.add(session.peer)  # (host, port) of the client: one per SMTP connection
            if self._refusals > 0:
                self._refusals -= 1
                return "451 4.3.0 Try again later"
            self.messages.append(message_from_bytes(envelope.content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def _holding(self) -> bool:
        return self._hold_after is not None and len(self.messages) >= self._hold_after

    def hold_after(self, count: int) -> None:
        self._hold_after = count

    def release(self) -> None:
        self._hold_after = None

    def refuse_next(self, count: int) -> None:
        with self._lock:
            self._refusals = count

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def email_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
