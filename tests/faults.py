"""Servers a fault-injection test owns, to stop and restart: Redis, a PostgreSQL cluster.

The shared services (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379) are never
touched: each fault gets a private server on a free port, with its files in a temporary
folder that is removed afterwards. Used by tests/test_faults.py.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from tests.realparts import ROOT, SMTPSink, free_port, wait_for

# ---------------------------------------------------------------------------- Redis

REDIS_SERVER = shutil.which("redis-server")


def redis_server_missing() -> str | None:
    if not REDIS_SERVER:
        return "needs redis-server on the PATH to run a private Redis (apt-get install redis-server)"
    return None


class PrivateRedis:
    """``redis-server`` on a free port, owned by the test: stop it and start it again on the same port."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> PrivateRedis:
        import redis

        log = open(self.folder / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - kept open for the child's life
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def answers():
            assert self.process.poll() is None, f"redis-server exited:\n{self.output()}"
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_for(answers, timeout=10, interval=0.05, message=f"a private Redis on port {self.port}")
        client.close()
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM: it closes every client connection; nothing is kept on disk)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        path = self.folder / f"redis-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def private_redis():
    folder = Path(tempfile.mkdtemp(prefix="hipclinic-redis-"))
    server = PrivateRedis(folder)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def celery_broker(url: str, monkeypatch):
    """Point this process's Celery app (its producers) at another broker, then back."""
    from hipclinic.celery import app

    def use(broker_url):
        app.conf.broker_url = broker_url
        app._pool = None  # forget pooled connections to the other broker
        app.amqp._producer_pool = None

    saved = app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery prefers the variable
    use(url)
    try:
        yield
    finally:
        monkeypatch.setenv("CELERY_BROKER_URL", saved)
        use(saved)


# ---------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL server binaries (initdb, pg_ctl), if installed."""
    found = [Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [folder for folder in found if (folder / "pg_ctl").exists()]
    return max(found, key=lambda folder: int(folder.parent.name), default=None)


def private_postgres_missing() -> str | None:
    if postgres_bin_dir() is None:
        return "needs PostgreSQL's server binaries in /usr/lib/postgresql/<version>/bin (initdb, pg_ctl)"
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: the cluster is run as the postgres user.
        if not shutil.which("runuser"):
            return "needs runuser (util-linux) to run a private PostgreSQL as the postgres user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "needs a postgres system user to run a private PostgreSQL"
    return None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own: initdb, start, stop, restart, create and migrate a database.

    Trust authentication, on a free port on 127.0.0.1, its Unix socket in its own folder,
    no fsync (its data is thrown away).
    """

    def __init__(self, folder: Path):
        self.bin = postgres_bin_dir()
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)

    def _run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        if self.as_root:
            command = ("runuser", "-u", "postgres", "--", *command)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}\n{self.output()}")
        return done

    def init(self) -> PrivatePostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
                  "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``fast`` ends every client connection at once (what a restart does)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        status = subprocess.run(  # exit code 3: not running
            ["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
            if self.as_root else [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True, timeout=30,
        )
        return status.returncode == 0

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def migrate(self, name: str, var_dir: Path) -> None:
        """``manage.py migrate`` in a child process, as a deployment would run it."""
        env = {**os.environ, "DEBUG": "1", "DATABASE_URL": self.url(name), "HIPCLINIC_VAR_DIR": str(var_dir),
               "DJANGO_SETTINGS_MODULE": "hipclinic.settings"}
        done = subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0", "--no-input"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def private_postgres():
    folder = Path(tempfile.mkdtemp(prefix="hipclinic-pg-"))
    cluster = PrivatePostgres(folder)
    try:
        cluster.init().start()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.running():
            cluster.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def database_alias(alias: str, url: str):
    """Let this process query another database as ``alias`` (``Model.objects.using(alias)``)."""
    from django.db import connections

    from hipclinic import config

    connections.settings[alias] = {
        **connections.settings["default"], **config.database_config(url),
        "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False,
    }
    try:
        yield alias
    finally:
        if any(opened.alias == alias for opened in connections.all(initialized_only=True)):
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


# ---------------------------------------------------------------------------- SMTP


class RecordingSink(SMTPSink):
    """An ``SMTPSink`` that also notes when each message was offered and what it answered."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.answers: list[tuple[float, str]] = []  # (time.monotonic(), "250" or "451")

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.answers.append((time.monotonic(), answer[:3]))
        return answer
