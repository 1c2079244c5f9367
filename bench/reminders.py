"""Benchmark of the missed-session scan and of sending reminders, on PostgreSQL.

    .venv/bin/python bench/reminders.py                      # 1,000,000 programs, ~1 % due
    .venv/bin/python bench/reminders.py --programs 100000    # a quicker check

It drops and recreates its own database (``hipclinic_bench`` unless --database-url says
otherwise), fills it with set-based SQL (``generate_series``), and prints:

* the scan's time, and its ratio to one raw SQL query selecting the same due rows;
* the same scan written as a per-program ORM loop, timed on a sample and scaled up, as a ratio;
* the rows a second run of the scan inserts (must be 0);
* e-mails per second through the outbox and a real ``celery worker`` against an SMTP sink
  on loopback, against smtplib sending the same pre-built messages on one connection;
* the worker's memory (resident set of its main process and pool children) when it starts,
  when it is done, at its peak while sending, and the growth (end - start).

``--emails`` may exceed the rows the scan queued: the outbox rows are then copied (new keys)
until there are that many, so that 100,000 e-mails can be sent from a smaller fill.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import smtplib
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hipclinic_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/9"
# Zones tried in turn: the first where it is daytime now, so that no e-mail is held by quiet hours.
DAYTIME_ZONES = ["UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "America/Los_Angeles", "Australia/Sydney",
                 "Europe/Berlin", "Pacific/Honolulu"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=1_000_000, help="active programs to create")
    parser.add_argument("--due-every", type=int, default=100, help="one program in this many is due (100: 1 %%)")
    parser.add_argument("--sample", type=int, default=5_000, help="programs the per-program ORM loop runs over")
    parser.add_argument("--emails", type=int, default=10_000,
                        help="e-mails sent (the queued rows are copied when the scan queued fewer)")
    parser.add_argument("--compare", type=int, default=10_000,
                        help="e-mails sent by smtplib and by deliver_batch() in this process, for the ratios")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="worker processes (prefork); 4 as in the README's production command")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL))
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("hipclinic_bench"):
        sys.exit(f"refusing to drop {name!r}: the bench database's name must start with hipclinic_bench")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def setup_django(args, var_dir: Path) -> None:
    os.environ.update({
        "DATABASE_URL": args.database_url, "CELERY_BROKER_URL": args.broker_url, "HIPCLINIC_VAR_DIR": str(var_dir),
        # DEBUG off, as in production: no query log growing in this process or the worker.
        "DEBUG": "0", "SECRET_KEY": "bench-" + uuid.uuid4().hex, "ALLOWED_HOSTS": "localhost",
        "DJANGO_SETTINGS_MODULE": "hipclinic.settings",
    })
    import django

    django.setup()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's line per SMTP command
    logging.getLogger("hipclinic").setLevel(logging.WARNING)  # a line per e-mail queued or swept


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def line(label: str, value: str) -> None:
    print(f"{label:<58} {value}", flush=True)


# ---------------------------------------------------------------------------- data


def daytime_zone(now: datetime) -> str:
    for name in DAYTIME_ZONES:
        if 9 <= now.astimezone(ZoneInfo(name)).hour < 19:
            return name
    return "UTC"


def fill(count: int, due_every: int, zone: str, today) -> None:
    """Patients, active programs and one session log each, in four INSERT ... SELECT statements."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.followups.models import SessionLog
    from apps.patients.models import Patient
    from apps.prescriptions.models import Program

    therapist = User.objects.create(username="bench-therapist", email="therapist@clinic.test")
    start = today - timedelta(weeks=3)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            f"""INSERT INTO {Patient._meta.db_table} (record_number, first_name, last_name, date_of_birth, sex, email,
                    phone, time_zone, preferred_contact, email_consent, email_consent_changed_at, notes, archived_at,
                    created_at, updated_at)
                SELECT 'HC' || lpad(g::text, 7, '0'), 'Bench', 'Patient' || g, DATE '1960-01-01', 'unknown',
                       'bench' || g || '@example.org', '', %s, 'email', true, now(), '', NULL, now(), now()
                FROM generate_series(1, %s) AS g""",
            [zone, count],
        )
        cursor.execute(
            f"""INSERT INTO {Program._meta.db_table} (patient_id, therapist_id, source_assessment_id, start_date, weeks,
                    sessions_per_week, goals, status, surgeon_clearance, surgeon_clearance_note, created_at, updated_at)
                SELECT id, %s, NULL, %s, 6, 3, '', 'active', false, '', now(), now()
                FROM {Patient._meta.db_table} ORDER BY id""",
            [therapist.pk, start],
        )
        # One program in due_every last logged six days ago (due); the others yesterday.
        cursor.execute(
            f"""INSERT INTO {SessionLog._meta.db_table} (program_id, session_date, effort, note, source, logged_by_id,
                    submission_key, created_at)
                SELECT id, CASE WHEN id %% %s = 0 THEN %s ELSE %s END, '', '', 'patient', NULL, 'bench-' || id, now()
                FROM {Program._meta.db_table}""",
            [due_every, today - timedelta(days=6), today - timedelta(days=1)],
        )
        cursor.execute("ANALYZE")


# ---------------------------------------------------------------------------- the scan three ways


RAW_DUE_SQL = """
SELECT p.id, pt.id, pt.email, pt.first_name, pt.time_zone
FROM prescriptions_program p
JOIN patients_patient pt ON pt.id = p.patient_id
WHERE p.status = 'active' AND pt.email_consent AND pt.archived_at IS NULL AND pt.email <> ''
  AND p.start_date <= %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM followups_sessionlog s WHERE s.program_id = p.id AND s.session_date > %(cutoff)s)
"""


def raw_due_rows(cutoff) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_DUE_SQL, {"cutoff": cutoff})
        return cursor.fetchall()


def write_same_rows() -> float:
    """Seconds to INSERT a copy of the rows the scan queued (other keys, same columns, one statement),
    rolled back: what writing them costs with the outbox's indexes and foreign keys, without any select."""
    from django.db import connection, transaction

    from apps.notifications.models import OutboxEmail

    table = OutboxEmail._meta.db_table
    columns = [f.column for f in OutboxEmail._meta.concrete_fields if f.column not in ("id", "key")]
    listed = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE scan_copy ON COMMIT DROP AS SELECT * FROM {table}")
        started = time.perf_counter()
        cursor.execute(f"INSERT INTO {table} (key, {listed}) "
                       f"SELECT key || ':copy', {listed} FROM scan_copy ON CONFLICT (key) DO NOTHING")
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return seconds


def per_program_loop(now: datetime, sample: int) -> int:
    """The same rule written the obvious way: one program at a time through the ORM."""
    from django.db.models import Max

    from apps.followups.reminders import KIND_MISSED_SESSION, NUDGE_INTERVAL
    from apps.notifications.models import OutboxEmail
    from apps.notifications.services import queue_email, send_time
    from apps.ops.policy import clinic_policy
    from apps.prescriptions.models import PatientLink, Program
    from hipclinic.zones import iso_week

    queued = 0
    for program in Program.objects.active().order_by("pk")[:sample]:
        patient = program.patient
        if not patient.can_receive_email:
            continue
        zone = patient.zone
        today = now.astimezone(zone).date()
        last = program.session_logs.aggregate(last=Max("session_date"))["last"] or program.start_date
        if (today - last).days < clinic_policy().missed_session_days:
            continue
        if OutboxEmail.objects.filter(patient=patient, kind=KIND_MISSED_SESSION,
                                      send_after__gt=now - NUDGE_INTERVAL).exists():
            continue
        link = PatientLink.objects.filter(patient=patient, revoked_at__isnull=True, expires_at__gt=now).first()
        row = queue_email(
            key=f"{KIND_MISSED_SESSION}:{program.pk}:{iso_week(today)}", kind=KIND_MISSED_SESSION,
            to_email=patient.email, subject="How are your exercises going?",
            text_template="emails/missed_session.txt", html_template="emails/missed_session.html",
            context={"first_name": patient.first_name, "days": (today - last).days, "logged_before": True,
                     "last_date": f"{last:%A} {last.day} {last:%B}", "sessions_per_week": program.sessions_per_week,
                     "program_link": link.pk if link else None},
            patient=patient, send_after=send_time(now, zone),
        )
        queued += row is not None
    return queued


# ---------------------------------------------------------------------------- sending


MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


def counting_sink():
    """``tests.realparts.SMTPSink`` keeping only each message's Message-ID.

    Parsing and keeping 100,000 whole messages would cost the sink (it shares the CPUs with
    the worker) and this process gigabytes; the exactly-once check needs the ids only.
    """
    from tests.realparts import SMTPSink

    class CountingSink(SMTPSink):
        async def handle_DATA(self, server, session, envelope):
            found = MESSAGE_ID.search(envelope.content)
            self.messages.append(found.group(1) if found else b"")
            return "250 OK"

    return CountingSink()


def copy_outbox_rows(total: int) -> None:
    """Copy the outbox rows (new keys) until there are ``total``: the scan queues 1 % of the programs."""
    from django.db import connection

    from apps.notifications.models import OutboxEmail

    have = OutboxEmail.objects.count()
    if have >= total or not have:
        return
    table = OutboxEmail._meta.db_table
    columns = [field.column for field in OutboxEmail._meta.concrete_fields if not field.primary_key]
    values = ["o.key || ':copy' || g" if column == "key" else f"o.{column}" for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} ({", ".join(columns)})
                SELECT {", ".join(values)} FROM {table} o CROSS JOIN generate_series(1, %s) AS g
                ORDER BY g, o.id LIMIT %s""",
            [-(-(total - have) // have), total - have],
        )
        cursor.execute(f"ANALYZE {table}")


def process_tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found.append(current)
        pending.extend(int(child) for child in children)
    return found


def status_kib(pid: int, field: str) -> int | None:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(field + ":"):
                return int(row.split()[1])
    except OSError:
        pass
    return None


class MemoryWatch:
    """Samples the resident set (VmRSS) of the worker's processes every ``interval`` seconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.pid, self.interval = pid, interval
        self.samples: list[dict[int, int]] = []
        self.warm: dict[int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[int, int]:
        rss = {pid: status_kib(pid, "VmRSS") for pid in process_tree(self.pid)}
        taken = {pid: kib for pid, kib in rss.items() if kib is not None}
        self.samples.append(taken)
        return taken

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> MemoryWatch:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def report(self) -> dict:
        first, last = self.samples[0], self.samples[-1]
        peak_total = max(sum(sample.values()) for sample in self.samples)
        peaks = {pid: max(sample.get(pid, 0) for sample in self.samples) for pid in last}
        return {"start": first, "warm": self.warm or first, "end": last, "peak_total": peak_total, "peaks": peaks,
                "hwm": {pid: status_kib(pid, "VmHWM") for pid in last}}


def send_through_worker(args, sink, total: int, var_dir: Path) -> tuple[float, int, dict]:
    from apps.notifications import services
    from apps.notifications.models import OutboxEmail, OutboxStatus
    from hipclinic.celery import app
    from tests.realparts import WorkerProcess, wait_for

    queue = f"bench-{uuid.uuid4().hex[:10]}"
    worker = WorkerProcess(
        queue=queue, broker_url=args.broker_url, var_dir=var_dir,
        extra_env={"EMAIL_URL": sink.email_url, "DEBUG": "0", "SECRET_KEY": os.environ["SECRET_KEY"],
                   "ALLOWED_HOSTS": "localhost", "LOG_LEVEL": "WARNING"},
    ).start(concurrency=args.concurrency)
    app.conf.task_default_queue = queue
    try:
        worker.wait_until_ready(timeout=120)
        time.sleep(1)  # the pool children finish starting
        watch = MemoryWatch(worker.process.pid).start()
        sent = OutboxEmail.objects.filter(status=OutboxStatus.SENT)
        started = time.perf_counter()
        try:
            services.dispatch_due(limit=total)  # outside a transaction: its batches are published at once

            def all_sent() -> bool:
                done = sent.count()
                if watch.warm is None and done >= total // 10:
                    watch.warm = watch.sample()  # every process has sent by now: growth from here is not warm-up
                return done == total

            wait_for(all_sent, timeout=3600, interval=0.25, message=f"{total} e-mails sent:\n{worker.output()[-3000:]}")
            elapsed = time.perf_counter() - started
        finally:
            watch.stop()
        return elapsed, worker.process.pid, watch.report()
    finally:
        worker.stop()


def deliver_in_process_reusing_one_connection(sink, ids: list[int]) -> float:
    """``deliver_batch()`` in this process, batch after batch, with one SMTP connection kept
    open: what one worker process costs per e-mail, without Celery in between."""
    from django.core.mail import get_connection

    from apps.notifications import services
    from apps.notifications.models import OutboxEmail, OutboxStatus

    OutboxEmail.objects.filter(pk__in=ids).update(status=OutboxStatus.PENDING, sent_at=None, locked_until=None)
    backend = get_connection("django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=sink.port,
                             username="", password="", use_tls=False, use_ssl=False, fail_silently=False)
    backend.open()
    really_close, backend.close = backend.close, lambda: None
    saved, services.get_connection = services.get_connection, lambda **_kwargs: backend
    try:
        started = time.perf_counter()
        for start in range(0, len(ids), services.SEND_BATCH):
            services.deliver_batch(outbox_ids=ids[start : start + services.SEND_BATCH])
        return time.perf_counter() - started
    finally:
        services.get_connection = saved
        really_close()


def send_with_smtplib(sink, messages: list[tuple[str, str, bytes]]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as client:
        for sender, recipient, data in messages:
            client.sendmail(sender, [recipient], data)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {urlsplit(args.database_url).path.lstrip('/')} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args, var_dir)
    from django.core.management import call_command
    from django.db import connection, transaction

    from apps.followups.reminders import missed_session_programs, queue_missed_session_nudges
    from apps.notifications.models import OutboxEmail
    from apps.notifications.services import SEND_BATCH, build_message
    from apps.ops.policy import clinic_policy

    try:
        call_command("migrate", verbosity=0)
        now = datetime.now(UTC)
        zone = daytime_zone(now)
        today = now.astimezone(ZoneInfo(zone)).date()
        _, fill_time = timed(fill, args.programs, args.due_every, zone, today)
        expected_due = args.programs // args.due_every
        print(f"{args.programs:,} active programs, {expected_due:,} due, patients in {zone}; "
              f"filled in {fill_time:.1f} s\n", flush=True)

        # One raw SQL query selecting the same due rows (warm: run once before timing).
        cutoff = today - timedelta(days=clinic_policy().missed_session_days)
        raw_due_rows(cutoff)
        raw, raw_time = timed(raw_due_rows, cutoff)
        assert len(raw) == expected_due, (len(raw), expected_due)

        # The per-program ORM loop on a sample, rolled back so that the scan starts from the same outbox.
        sample = min(args.sample, args.programs)
        with transaction.atomic():
            loop_queued, loop_time = timed(per_program_loop, now, sample)
            transaction.set_rollback(True)
        loop_estimate = loop_time * args.programs / sample

        select_only, select_time = timed(lambda: list(missed_session_programs(now)))
        assert len(select_only) == expected_due
        del select_only
        inserted, scan_time = timed(queue_missed_session_nudges, now)
        rows_after_first = OutboxEmail.objects.count()
        again, second_time = timed(queue_missed_session_nudges, now + timedelta(minutes=5))
        inserted_again = OutboxEmail.objects.count() - rows_after_first

        write_time = write_same_rows()  # the outbox holds exactly the scan's rows here
        line("raw SQL query selecting the due rows", f"{raw_time * 1000:9.0f} ms  ({len(raw):,} rows)")
        line("  writing those rows alone (a copy, rolled back)",
             f"{write_time * 1000:9.0f} ms  -> raw select + write = {(raw_time + write_time) * 1000:.0f} ms; "
             f"the scan = {scan_time / (raw_time + write_time):.2f} x that")
        line("scan: queue_missed_session_nudges (first run)",
             f"{scan_time * 1000:9.0f} ms  ({inserted:,} queued)  = {scan_time / raw_time:.1f} x raw SQL")
        line("  due-programs SELECT alone (ORM, as SQLite runs it)",
             f"{select_time * 1000:9.0f} ms  = {select_time / raw_time:.2f} x raw SQL")
        line(f"per-program ORM loop ({sample:,} programs, {loop_queued} due)",
             f"{loop_time * 1000:9.0f} ms  -> {loop_estimate:.0f} s for {args.programs:,}"
             f"  = {loop_estimate / scan_time:.0f} x the scan")
        line("second run of the scan", f"{second_time * 1000:9.0f} ms, returned {again}, rows inserted: "
             f"{inserted_again}{'' if inserted_again == 0 else '  <-- MUST BE 0'}")

        # Sending: the worker through the outbox, then smtplib with the same messages on one connection.
        copy_outbox_rows(args.emails)
        ids = list(OutboxEmail.objects.order_by("pk").values_list("pk", flat=True)[: args.emails])
        OutboxEmail.objects.exclude(pk__in=ids).delete()
        compared = ids[: args.compare]
        sink = counting_sink().start()
        try:
            prebuilt = []
            for row in OutboxEmail.objects.filter(pk__in=compared).iterator(chunk_size=2000):
                message = build_message(row)
                data = message.message().as_bytes(linesep="\r\n")  # as Django's SMTP backend does
                prebuilt.append((message.from_email, row.to_email, data))
            # smtplib just before and just after the worker, on a shared machine whose load changes.
            smtplib_before = send_with_smtplib(sink, prebuilt)
            sink.messages.clear()
            worker_time, main_pid, memory = send_through_worker(args, sink, len(ids), var_dir)
            delivered = len(sink.messages)
            distinct = len(set(sink.messages))
            smtplib_after = send_with_smtplib(sink, prebuilt)
            del prebuilt
            reused_time = deliver_in_process_reusing_one_connection(sink, compared)
        finally:
            sink.stop()
        smtplib_time = (smtplib_before + smtplib_after) / 2
        worker_rate, smtplib_rate = len(ids) / worker_time, len(compared) / smtplib_time
        line(f"worker ({args.concurrency} processes, SEND_BATCH {SEND_BATCH}) through the outbox",
             f"{worker_rate:9.0f} e-mails/s  ({len(ids):,} in {worker_time:.1f} s; "
             f"{delivered:,} received, {distinct:,} distinct)")
        line(f"smtplib, same pre-built messages, one connection ({len(compared):,})",
             f"{smtplib_rate:9.0f} e-mails/s  -> worker = {worker_rate / smtplib_rate:.2f} x smtplib  "
             f"(mean of {len(compared) / smtplib_before:.0f} before and {len(compared) / smtplib_after:.0f} after)")
        line(f"deliver_batch() in one process, one SMTP connection ({len(compared):,})",
             f"{len(compared) / reused_time:9.0f} e-mails/s  = {smtplib_time / reused_time:.2f} x smtplib")

        def mib(kib: int) -> str:
            return f"{kib / 1024:.0f}"

        def per_process(sample: dict[int, int]) -> str:
            return " + ".join(f"{'main' if pid == main_pid else 'child'} {mib(kib)}" for pid, kib in sample.items())

        start, end = memory["start"], memory["end"]
        line("worker RSS at start (MiB)", f"{mib(sum(start.values())):>9}  ({per_process(start)})")
        line("worker RSS at end (MiB)", f"{mib(sum(end.values())):>9}  ({per_process(end)})")
        line("worker RSS peak while sending (MiB, sum of processes)",
             f"{mib(memory['peak_total']):>9}  (per process: {per_process(memory['peaks'])}; "
             f"VmHWM {per_process(memory['hwm'])})")
        growth = sum(end.values()) - sum(start.values())
        line("worker RSS growth, end - start (MiB)",
             f"{growth / 1024:9.1f}  ({', '.join(f'{mib(end[pid] - start.get(pid, 0))}' for pid in end)} per process)")
        warm = memory["warm"]
        line("  of which after the first 10 % sent (MiB)", f"{(sum(end.values()) - sum(warm.values())) / 1024:9.1f}")
        line("load average (1, 5, 15 min) at the end", " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
