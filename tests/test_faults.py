"""Fault injection with real processes: each fault is a real server stopped, killed or refusing.

Four faults, and where each is tested:

1. Redis stopped and restarted during bookings: bookings are saved and answered at once,
   their confirmations go out after Redis is back, once each, through the worker that was
   running all along (it reconnects by itself). Here, with a private ``redis-server``.
2. The SMTP server refusing, then accepting: the outbox row is retried with growing
   delays by a real worker and delivered once. Here.
3. PostgreSQL restarted while the worker runs: the same worker process carries on; a
   message the relay accepted while the database was down is recorded as sent once it
   is back (not sent again); the e-mail whose task ran during the outage is sent after
   it. Here, with a private PostgreSQL cluster (the shared one is never touched).
4. ``kill -9`` of the worker in the middle of an SMTP batch: every reminder delivered
   exactly once (by recipient and Message-ID) by the next worker. In
   tests/notifications/test_outbox_real_parts.py
   (``test_every_due_reminder_is_delivered_exactly_once_when_a_worker_is_killed_mid_send``),
   beside the broker-unreachable test it shares its fixtures with.

The private servers live in tests/faults.py.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import time as clock
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.notifications import services as outbox
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.tasks import dispatch_outbox
from apps.ops.models import Heartbeat
from apps.scheduling.models import Appointment
from hipclinic.celery import BEAT_SCHEDULE
from tests import faults
from tests import realparts as real
from tests.factories import PatientFactory, TherapistFactory, UserFactory, appointment_kind
from tests.notifications.helpers import queue_patient_email

SWEEP_OPTIONS = BEAT_SCHEDULE["notifications.dispatch_outbox"]["options"]
BROKER_LOST = "Connection to broker lost"
BROKER_UNREACHABLE = "Cannot connect to redis://"
# Short leases, so that what a fault took away is swept up again within the test.
LEASE_SECONDS = 5


def beat_sweep() -> None:
    """Send the outbox sweep to the workers, as beat does every 30 seconds."""
    dispatch_outbox.apply_async(**SWEEP_OPTIONS)


def exactly_once(messages) -> tuple[Counter, Counter]:
    by_recipient = Counter(message["To"] for message in messages)
    by_message_id = Counter(message["Message-ID"] for message in messages)
    return by_recipient, by_message_id


def output_after(worker, mark: int) -> str:
    return worker.output()[mark:]


# ---------------------------------------------------------------------------- 1. Redis


@pytest.fixture
def private_redis():
    reason = faults.redis_server_missing()
    if reason:
        real.unavailable(reason)
    with faults.private_redis() as server:
        yield server


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.smtp
def test_bookings_made_while_redis_is_down_are_saved_and_confirmed_once_after_it_restarts(
    transactional_db, private_redis, smtp_relay, api_client, client, monkeypatch, settings, report_figure
):
    import redis

    settings.EMAIL_LEASE_SECONDS = LEASE_SECONDS  # this process and the worker agree on the lease
    therapist = TherapistFactory(hours=[(day, clock(0), clock(23, 45)) for day in range(7)])
    patients = [PatientFactory(email=f"outage{i}@example.org") for i in range(5)]
    desk_user = UserFactory(role="front_desk")
    api_client.force_authenticate(desk_user)
    client.force_login(desk_user)
    first_start = (timezone.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)

    def book_by_api(patient, start):
        return api_client.post("/api/v1/appointments/", {
            "patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up", "start": start.isoformat(),
        }, format="json")

    def book_at_the_desk(patient, start):
        local = timezone.localtime(start)
        return client.post(f"/desk/patients/{patient.pk}/book/", {
            "therapist": therapist.pk, "kind": appointment_kind("follow_up").pk,
            "date": local.date().isoformat(), "start_time": local.strftime("%H:%M"),
        })

    with faults.celery_broker(private_redis.url(), monkeypatch), \
            real.celery_worker(broker_url=private_redis.url(), EMAIL_URL=smtp_relay.email_url,
                               EMAIL_LEASE_SECONDS=str(LEASE_SECONDS)) as worker:
        real.wait_for(Heartbeat.objects.exists, message="the worker's first heartbeat")  # ready, and idle
        worker_pid = worker.process.pid
        # Before the outage: the worker is sending one confirmation (the relay is slow) when
        # a second booking's task arrives and waits in Redis, which then stops and loses it.
        smtp_relay.delay = 2.0
        assert book_by_api(patients[0], first_start).status_code == 201
        real.wait_for(lambda: smtp_relay.in_flight, timeout=60, message="the first confirmation at the relay")
        assert book_by_api(patients[1], first_start + timedelta(hours=1)).status_code == 201
        assert redis.Redis(port=private_redis.port).llen(worker.queue) == 1  # its task, waiting

        mark = len(worker.output())
        outage_began = time.monotonic()
        private_redis.stop()
        smtp_relay.delay = 0
        real.wait_for(lambda: BROKER_LOST in output_after(worker, mark), message="the worker to see Redis go away")

        answers = []
        for number, (patient, book) in enumerate(
            [(patients[2], book_by_api), (patients[3], book_at_the_desk), (patients[4], book_by_api)], start=2
        ):
            started = time.monotonic()
            response = book(patient, first_start + timedelta(hours=number))
            answers.append((book.__name__, response.status_code, time.monotonic() - started))
        # Redis stays down until the worker has failed to reconnect twice: it is in its
        # own back-off loop (2 s, 4 s, ...), not merely lucky with its first attempt.
        real.wait_for(lambda: output_after(worker, mark).count(BROKER_UNREACHABLE) >= 2,
                      message="the worker's second failed reconnection")

        assert [(how, status) for how, status, _ in answers] == [
            ("book_by_api", 201), ("book_at_the_desk", 302), ("book_by_api", 201)
        ]
        slowest = max(took for _, _, took in answers)
        assert slowest < 3, answers  # the front desk is not kept waiting by the outage
        assert Appointment.objects.filter(patient__in=patients[2:]).count() == 3
        in_outage = OutboxEmail.objects.filter(kind="booking-confirmation", patient__in=patients[2:])
        assert [(row.status, row.locked_until) for row in in_outage] == [(OutboxStatus.PENDING, None)] * 3
        assert len(smtp_relay.messages) == 1  # the one in flight; nothing else could be sent

        private_redis.start()  # the same port, and empty: the waiting task is gone
        restarted = time.monotonic()
        outage = restarted - outage_began

        def all_confirmed():
            beat_sweep()  # beat's sweep, every second here instead of every 30 s
            return len(smtp_relay.messages) == len(patients)

        real.wait_for(all_confirmed, timeout=LEASE_SECONDS + 30, interval=1,
                      message="the confirmations queued in and just before the outage")
        recovered = time.monotonic() - restarted

        assert outbox.dispatch_due() == 0  # nothing left to send
        worker.drain()  # every task queued so far has run: a second copy would be at the relay now
        assert worker.process.pid == worker_pid and worker.process.poll() is None  # never restarted
        reconnected = output_after(worker, mark)

    assert "Connected to redis://" in reconnected
    by_recipient, by_message_id = exactly_once(smtp_relay.messages)
    assert by_recipient == {patient.email: 1 for patient in patients}
    assert len(by_message_id) == len(patients)
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    report_figure(f"Redis outage: down {outage:.1f} s during 3 bookings (slowest answer {slowest * 1000:.0f} ms), "
                  f"1 queued task lost with it; all {len(patients)} confirmations delivered {recovered:.1f} s after "
                  f"the restart by the same worker (lease {LEASE_SECONDS} s + sweep); "
                  f"{len(smtp_relay.messages) - len(by_message_id)} duplicates")


# ---------------------------------------------------------------------------- 2. SMTP


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.smtp
def test_a_refusing_smtp_server_gets_the_email_once_it_accepts_after_retries_with_growing_delays(
    transactional_db, report_figure
):
    sink = faults.RecordingSink().start()
    try:
        sink.refuse_next(2)
        with real.celery_worker(EMAIL_URL=sink.email_url, EMAIL_RETRY_BASE_SECONDS="1") as worker:
            with transaction.atomic():
                row = queue_patient_email(PatientFactory(email="tess@example.org"))
            first = real.wait_for(lambda: OutboxEmail.objects.filter(pk=row.pk, attempts=1).first(),
                                  message="the first refusal recorded on the row")
            assert (first.status, first.last_error) == (OutboxStatus.PENDING, "SMTPDataError")
            assert first.send_after >= first.created_at + timedelta(seconds=1)  # backing off, not at once

            def sent_after_sweeping():
                outbox.dispatch_due()  # beat's sweep, run more often than every 30 s
                return OutboxEmail.objects.filter(pk=row.pk, status=OutboxStatus.SENT).first()

            sent = real.wait_for(sent_after_sweeping, timeout=30, interval=0.2, message="the e-mail sent")
            assert outbox.dispatch_due() == 0
            worker.drain()  # every task queued so far has run: a second copy would be at the sink now
            assert f"outbox sent id={row.pk} kind=test-email attempts=3" in worker.output()
    finally:
        sink.stop()

    assert (sent.attempts, sent.last_error) == (2, "")  # two failed attempts on record, then sent
    assert [answer for _, answer in sink.answers] == ["451", "451", "250"]
    assert [message["To"] for message in sink.messages] == ["tess@example.org"]
    (offered, _), (second, _), (third, _) = sink.answers
    waits = [second - offered, third - second]
    assert 1 <= waits[0] < waits[1] and waits[1] >= 2  # EMAIL_RETRY_BASE_SECONDS=1: about 1 s, then 2 s
    report_figure(f"SMTP refusing twice: retried after {waits[0]:.1f} s and {waits[1]:.1f} s, "
                  f"then delivered once ({len(sink.messages)} message at the server)")


# ---------------------------------------------------------------------------- 3. PostgreSQL

TASK_FAILED_ON_THE_DATABASE = re.compile(
    r"task=apps\.notifications\.tasks\.send_outbox_batch id=\S+ error=OperationalError"
)


@pytest.fixture
def private_cluster():
    reason = faults.private_postgres_missing()
    if reason:
        real.unavailable(reason)
    with faults.private_postgres() as cluster:
        yield cluster


def put_in_outbox(alias: str, name: str) -> OutboxEmail:
    """An outbox row as ``queue_email`` writes it when it is due now (its send task about to be queued)."""
    row = outbox.build_email(
        key=f"fault:{name}", kind="fault-test", to_email=f"{name}@example.org", subject="Your appointment",
        text_template="emails/appointment_reminder.txt", html_template="emails/appointment_reminder.html",
        context={"first_name": name, "when": "Monday 24 November 2026 at 10:00", "time_zone": "Europe/London"},
    )
    row.locked_until = timezone.now() + outbox.lease_length()
    row.save(using=alias, force_insert=True)
    return row


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.smtp
def test_the_worker_carries_on_after_postgresql_restarts_and_sends_everything_once(
    private_cluster, smtp_relay, django_db_blocker, settings, tmp_path, report_figure
):
    from django.db import connections

    settings.EMAIL_LEASE_SECONDS = LEASE_SECONDS  # this process and the worker agree on the lease
    private_cluster.create_database("hipclinic")
    private_cluster.migrate("hipclinic", tmp_path)
    database_url = private_cluster.url("hipclinic")

    with django_db_blocker.unblock(), faults.database_alias("private", database_url) as db, \
            real.celery_worker(DATABASE_URL=database_url, EMAIL_URL=smtp_relay.email_url,
                               EMAIL_LEASE_SECONDS=str(LEASE_SECONDS)) as worker:

        def restarted(stopped_at: float) -> float:
            private_cluster.start()
            connections[db].close()  # this process's own connection ended with the server
            return time.monotonic() - stopped_at

        def sent(*names: str) -> bool:
            rows = OutboxEmail.objects.using(db).filter(key__in=[f"fault:{name}" for name in names])
            return rows.filter(status=OutboxStatus.SENT).count() == len(names)

        def sweeping_until_sent(*names: str) -> None:
            def done():
                beat_sweep()
                return sent(*names)

            real.wait_for(done, timeout=LEASE_SECONDS + 30, interval=0.5, message=f"{names} sent")

        real.wait_for(lambda: Heartbeat.objects.using(db).exists(), message="the worker's first heartbeat")
        worker_pid = worker.process.pid
        outbox.enqueue([put_in_outbox(db, "before").pk])
        real.wait_for(lambda: sent("before"), message="an e-mail sent before the restarts")

        # 1. PostgreSQL stops while the relay holds a message of a batch, and is still down
        # when the relay accepts it: the worker must still record it as sent, not send it again.
        smtp_relay.delay = 1.0
        held, following = put_in_outbox(db, "held"), put_in_outbox(db, "next")
        outbox.enqueue([held.pk, following.pk])
        real.wait_for(lambda: smtp_relay.in_flight, message="a message held by the relay")
        private_cluster.stop()
        stopped = time.monotonic()
        real.wait_for(lambda: len(smtp_relay.messages) == 2, message="the held message accepted")
        # The stop must hit the worker's write that records the message as sent.
        real.wait_for(lambda: f"outbox record-sent retry id={held.pk} error=" in worker.output(),
                      message="the worker's first attempt to record the held message meeting a stopped server")
        first_outage = restarted(stopped)
        smtp_relay.delay = 0
        sweeping_until_sent("held", "next")
        held_recorded = time.monotonic() - stopped

        # 2. A send task reaches the worker while PostgreSQL is stopped: it fails, the row
        # keeps its lease, and beat's sweep sends it once the lease has lapsed.
        caught = put_in_outbox(db, "caught")
        private_cluster.stop()
        stopped = time.monotonic()
        mark = len(worker.output())
        outbox.enqueue([caught.pk])
        real.wait_for(lambda: TASK_FAILED_ON_THE_DATABASE.search(output_after(worker, mark)),
                      message="the send task failing on the stopped database")
        second_outage = restarted(stopped)

        back = time.monotonic()
        outbox.enqueue([put_in_outbox(db, "after").pk])
        real.wait_for(lambda: sent("after"), message="an e-mail sent after the restart, by the same worker")
        recovered = time.monotonic() - back
        assert not sent("caught")
        sweeping_until_sent("caught")
        caught_after = time.monotonic() - back

        worker.drain(using=db)  # every task queued so far has run: a second copy would be at the relay now
        assert worker.process.pid == worker_pid and worker.process.poll() is None  # never restarted
        statuses = set(OutboxEmail.objects.using(db).values_list("status", flat=True))

    assert statuses == {OutboxStatus.SENT}
    by_recipient, by_message_id = exactly_once(smtp_relay.messages)
    names = ("before", "held", "next", "caught", "after")
    assert by_recipient == {f"{name}@example.org": 1 for name in names}
    assert len(by_message_id) == len(names)
    report_figure(f"PostgreSQL stopped mid-send for {first_outage:.1f} s: the held message and the rest of its "
                  f"batch recorded as sent {held_recorded:.1f} s after the stop, no second copy")
    report_figure(f"PostgreSQL stopped for {second_outage:.1f} s: the same worker sent new mail {recovered:.1f} s "
                  f"after the restart, and the e-mail whose task failed in the outage {caught_after:.1f} s after "
                  f"(lease {LEASE_SECONDS} s + sweep); {len(smtp_relay.messages)} delivered, "
                  f"{len(smtp_relay.messages) - len(by_message_id)} duplicates")
