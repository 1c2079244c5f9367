"""Exactly once with the real parts: Redis, worker processes killed with kill -9, a slow SMTP relay, a broker outage."""

import logging
import time
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.notifications import reminders, services
from apps.notifications.models import OutboxEmail, OutboxStatus
from tests import realparts as real
from tests.factories import PatientFactory
from tests.notifications.helpers import bulk_appointments, queue_patient_email

pytestmark = [pytest.mark.redis, pytest.mark.worker, pytest.mark.smtp]

NOBODY_LISTENS = "redis://127.0.0.1:1/0"


@pytest.fixture
def slow_relay():
    """A relay that takes its time with each message, and holds the 31st until it is released."""
    sink = real.SMTPSink(delay=0.02).start()
    sink.hold_after(30)
    yield sink
    sink.stop()


def sent_count() -> int:
    return OutboxEmail.objects.filter(status=OutboxStatus.SENT).count()


def sweep_until_all_sent(total: int, *, timeout: float) -> None:
    def all_sent():
        services.dispatch_due()
        return sent_count() == total

    real.wait_for(all_sent, timeout=timeout, interval=0.5, message=f"all {total} e-mails sent")


def test_every_due_reminder_is_delivered_exactly_once_when_a_worker_is_killed_mid_send(
    transactional_db, settings, slow_relay, report_figure
):
    total = 150
    settings.EMAIL_LEASE_SECONDS = 5  # the sweep in this process and the workers agree on the lease
    bulk_appointments(total, first_start=timezone.now() + timedelta(hours=2))
    worker_env = {"EMAIL_URL": slow_relay.email_url, "EMAIL_LEASE_SECONDS": "5"}

    with real.celery_worker(**worker_env) as first:
        assert reminders.run_due_scans(timezone.now())["appointment-reminder"] == total
        assert services.dispatch_due() == total

        # Kill it while it waits for the relay's answer to a message: the worst moment,
        # when the message is neither refused nor known to be accepted. The relay holds the
        # 31st message until then, so the kill always lands there, however busy the machine.
        real.wait_for(lambda: len(slow_relay.messages) == 30 and slow_relay.in_flight, timeout=60,
                      interval=0.01, message="the first worker waiting on the 31st message")
        first.kill()
    slow_relay.release()

    delivered_by_first = len(slow_relay.messages)
    assert delivered_by_first == 30
    # Mid-batch: killed inside the first batch of SEND_BATCH rows, all sent over one SMTP connection.
    assert delivered_by_first < services.SEND_BATCH and len(slow_relay.connections) == 1
    assert OutboxEmail.objects.filter(status=OutboxStatus.SENDING).count() == 1  # the one it held

    killed = time.monotonic()
    with real.celery_worker(**worker_env):
        sweep_until_all_sent(total, timeout=90)
    recovered = time.monotonic() - killed

    recipients = Counter(message["To"] for message in slow_relay.messages)
    message_ids = Counter(message["Message-ID"] for message in slow_relay.messages)
    assert set(recipients) == {f"bulk{i}@example.org" for i in range(total)}
    assert max(recipients.values()) == 1
    assert len(message_ids) == total and max(message_ids.values()) == 1
    assert all(message["Subject"].startswith("Reminder: your appointment on ") for message in slow_relay.messages)
    report_figure(f"kill -9 mid-batch: {delivered_by_first} of {total} delivered before the kill (inside the first "
                  f"batch of {services.SEND_BATCH}); all {total} delivered {recovered:.1f} s after it by the next "
                  f"worker, {len(slow_relay.messages) - len(message_ids)} duplicates")


@contextmanager
def broker_unreachable(monkeypatch):
    """Point this process's Celery app at a port where nothing listens, then back."""
    from hipclinic.celery import app

    def use(url):
        app.conf.broker_url = url
        app._pool = None  # forget pooled connections to the other broker
        app.amqp._producer_pool = None

    saved = app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", NOBODY_LISTENS)  # Celery prefers the variable
    use(NOBODY_LISTENS)
    try:
        yield
    finally:
        monkeypatch.setenv("CELERY_BROKER_URL", saved)
        use(saved)


def test_an_email_queued_while_the_broker_is_down_is_kept_and_sent_once_it_is_back(
    transactional_db, smtp_relay, monkeypatch, caplog
):
    caplog.set_level(logging.INFO)
    patient = PatientFactory(email="hedy@example.org", first_name="Hedy")

    with real.celery_worker(EMAIL_URL=smtp_relay.email_url):
        with broker_unreachable(monkeypatch):
            started = time.monotonic()
            with transaction.atomic():  # e.g. a booking: the change and its e-mail commit together
                row = queue_patient_email(patient)
            took = time.monotonic() - started

        assert took < 3  # the request is not held up by the outage
        row.refresh_from_db()
        assert (row.status, row.locked_until) == (OutboxStatus.PENDING, None)  # left for the sweep
        ours = [r.getMessage() for r in caplog.records if r.name.startswith("hipclinic")]
        assert [line for line in ours if line.startswith("outbox enqueue failed")] == [
            "outbox enqueue failed count=1 error=OperationalError"
        ]
        assert not any("hedy" in line.lower() for line in ours)
        assert smtp_relay.messages == []

        assert services.dispatch_due() == 1  # the broker is back
        real.wait_for(lambda: smtp_relay.messages, message="the e-mail at the relay")
        real.wait_for(lambda: sent_count() == 1, message="the row marked sent")
        assert services.dispatch_due() == 0

    assert [message["To"] for message in smtp_relay.messages] == ["hedy@example.org"]
