"""The outbox: one row per key, sent once over real SMTP, retried, parked, re-sent."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.tasks import send_outbox_email
from apps.patients.services import set_email_consent
from tests.factories import PatientFactory
from tests.notifications.helpers import queue_patient_email

pytestmark = pytest.mark.django_db


def unfold(header: str) -> str:
    return "".join(header.split())  # long headers are folded over lines on the wire


@pytest.mark.smtp
def test_an_email_is_sent_once_the_transaction_commits(smtp_server, django_capture_on_commit_callbacks):
    patient = PatientFactory(email="ada@example.org")

    with django_capture_on_commit_callbacks() as callbacks:
        row = queue_patient_email(patient)
    assert smtp_server.messages == []  # nothing leaves before the commit
    assert OutboxEmail.objects.get().status == OutboxStatus.PENDING

    for callback in callbacks:
        callback()

    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT and row.sent_at is not None and row.attempts == 0
    assert [message["To"] for message in smtp_server.messages] == ["ada@example.org"]


@pytest.mark.smtp
def test_queueing_the_same_key_twice_makes_one_row_and_one_message(smtp_server, django_capture_on_commit_callbacks):
    patient = PatientFactory()

    with django_capture_on_commit_callbacks(execute=True):
        first = queue_patient_email(patient, key="appointment-reminder:7:2026-11-24T10:00:00+00:00")
        second = queue_patient_email(patient, key="appointment-reminder:7:2026-11-24T10:00:00+00:00")

    assert first is not None and second is None
    assert OutboxEmail.objects.count() == 1
    assert len(smtp_server.messages) == 1


@pytest.mark.smtp
def test_a_sent_email_is_left_alone_when_its_task_runs_again(smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        row = queue_patient_email(PatientFactory())

    send_outbox_email.delay(row.pk)
    services.deliver(outbox_id=row.pk)

    assert len(smtp_server.messages) == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT


def test_a_patient_without_consent_gets_no_row_at_all(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert queue_patient_email(PatientFactory(email_consent=False)) is None
        assert queue_patient_email(PatientFactory(email=""), key="test-email:2") is None
        assert queue_patient_email(PatientFactory(archived_at=timezone.now()), key="test-email:3") is None

    assert not OutboxEmail.objects.exists()


@pytest.mark.smtp
def test_consent_withdrawn_before_sending_means_nothing_is_sent(smtp_server, django_capture_on_commit_callbacks):
    patient = PatientFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        row = queue_patient_email(patient)
    set_email_consent(patient=patient, consent=False)

    for callback in callbacks:
        callback()

    assert smtp_server.messages == []
    row.refresh_from_db()
    assert row.status == OutboxStatus.SKIPPED
    services.deliver(outbox_id=row.pk)  # a skipped row stays skipped
    assert smtp_server.messages == []


@pytest.mark.smtp
def test_the_message_has_text_and_html_parts_and_a_one_click_unsubscribe(
    smtp_server, django_capture_on_commit_callbacks
):
    patient = PatientFactory(first_name="Grace", last_name="Hopper", email="grace@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        queue_patient_email(patient)

    message = smtp_server.messages[0]
    assert message.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in message.walk() if not part.is_multipart()]
    assert kinds == ["text/plain", "text/html"]
    url = services.unsubscribe_url(patient)
    assert unfold(message["List-Unsubscribe"]) == f"<{url}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == services.message_id("test-email:1")
    text = message.get_payload()[0].get_payload(decode=True).decode()
    assert "Hello Grace" in text and url in text
    assert "Grace" not in message["Subject"] and "Hopper" not in message["Subject"]


@pytest.mark.smtp
def test_a_refusing_server_is_retried_with_growing_delays_then_the_email_arrives_once(
    smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    smtp_server.refuse_next(2)

    with django_capture_on_commit_callbacks(execute=True):
        row = queue_patient_email(PatientFactory())
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.PENDING, 1, "SMTPDataError")
    first_wait = row.send_after - timezone.now()
    assert timedelta(seconds=55) < first_wait <= timedelta(seconds=76)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.dispatch_due() == 0  # not due yet: nothing queued early
    with time_machine.travel(row.send_after + timedelta(seconds=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.dispatch_due() == 1
        row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 2)
        assert row.send_after - timezone.now() > timedelta(seconds=115)  # doubled
    with time_machine.travel(row.send_after + timedelta(seconds=1)), django_capture_on_commit_callbacks(execute=True):
        services.dispatch_due()

    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
    assert len(smtp_server.messages) == 1


@pytest.mark.smtp
def test_an_email_failing_every_time_is_parked_and_the_admin_resends_it(
    smtp_server, settings, client, manager, django_capture_on_commit_callbacks
):
    settings.EMAIL_MAX_ATTEMPTS = 2
    smtp_server.refuse_next(2)
    with django_capture_on_commit_callbacks(execute=True):
        row = queue_patient_email(PatientFactory())
    row.refresh_from_db()
    with time_machine.travel(row.send_after + timedelta(seconds=1)), django_capture_on_commit_callbacks(execute=True):
        services.dispatch_due()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 2, "SMTPDataError")
    assert smtp_server.messages == []

    client.force_login(manager)
    listing = client.get("/admin/notifications/outboxemail/?status__exact=failed")
    assert listing.status_code == 200
    assert f"/admin/notifications/outboxemail/{row.pk}/change/" in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/notifications/outboxemail/", {"action": "resend_failed", "_selected_action": [row.pk]}, follow=True
        )

    assert "1 e-mail(s) queued to be sent again." in response.content.decode()
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT
    assert len(smtp_server.messages) == 1


def test_an_email_for_later_waits_for_the_sweep(django_capture_on_commit_callbacks, mailoutbox):
    later = timezone.now() + timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        row = queue_patient_email(PatientFactory(), send_after=later)
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert services.dispatch_due() == 0
    with time_machine.travel(later + timedelta(seconds=1)), django_capture_on_commit_callbacks(execute=True):
        assert services.dispatch_due() == 1

    assert len(mailoutbox) == 1
    row.refresh_from_db()
    assert row.status == OutboxStatus.SENT


def test_a_lease_held_by_a_live_worker_is_respected_and_an_expired_one_taken_over(mailoutbox):
    row = queue_patient_email(PatientFactory())  # no commit in this test: nothing was queued
    OutboxEmail.objects.filter(pk=row.pk).update(
        status=OutboxStatus.SENDING, locked_until=timezone.now() + timedelta(seconds=60)
    )

    assert services.deliver(outbox_id=row.pk) == "not-claimed"
    assert mailoutbox == []
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert services.deliver(outbox_id=row.pk) == OutboxStatus.SENT
    assert len(mailoutbox) == 1


@pytest.mark.smtp
def test_log_lines_name_ids_and_kinds_but_no_address_or_name(smtp_server, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO)
    patient = PatientFactory(first_name="Ottoline", email="ottoline@example.org")
    smtp_server.refuse_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        queue_patient_email(patient)

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("hipclinic"))  # not the test server's
    assert "outbox queued" in ours and "outbox retry" in ours
    assert "ottoline" not in ours.lower()


def test_the_sweep_makes_two_queries_for_ten_or_a_thousand_due_rows(django_assert_num_queries):
    patient = PatientFactory()
    for count in (10, 1000):
        OutboxEmail.objects.all().delete()
        OutboxEmail.objects.bulk_create(
            OutboxEmail(key=f"bulk:{i}", kind="test", patient=patient, to_email=patient.email, subject="s",
                        body_text="b", send_after=timezone.now())
            for i in range(count)
        )
        with django_assert_num_queries(2):  # the due ids; marking them queued
            assert services.dispatch_due(limit=5000) == count
        # Just queued (the on-commit tasks never run in this test): the next sweep leaves them alone.
        with django_assert_num_queries(1):
            assert services.dispatch_due(limit=5000) == 0


def test_a_write_that_rolls_back_leaves_no_email(django_capture_on_commit_callbacks, mailoutbox):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom), transaction.atomic():
        queue_patient_email(PatientFactory())
        raise Boom

    assert not OutboxEmail.objects.exists()
    assert mailoutbox == []


def test_an_email_that_cannot_be_built_is_parked_at_once_not_retried_forever(mailoutbox):
    row = queue_patient_email(PatientFactory(), headers={"X-Note": "one\nline too many"})

    assert services.deliver(outbox_id=row.pk) == OutboxStatus.FAILED

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 1, "BadHeaderError")
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)  # outside a transaction, as in a worker: the connection can be replaced
def test_an_accepted_email_is_recorded_as_sent_when_the_database_connection_drops_meanwhile(
    mailoutbox, monkeypatch, caplog
):
    from django.db import OperationalError
    from django.db.models import QuerySet

    caplog.set_level(logging.WARNING)
    row = queue_patient_email(PatientFactory(), send_after=timezone.now() + timedelta(hours=1))  # not sent yet
    OutboxEmail.objects.filter(pk=row.pk).update(send_after=timezone.now())
    update, dropped = QuerySet.update, []

    def update_after_a_restart(queryset, **values):
        if values.get("status") == OutboxStatus.SENT and not dropped:  # a PostgreSQL restart mid-send
            dropped.append(values)
            raise OperationalError("server closed the connection unexpectedly")
        return update(queryset, **values)

    monkeypatch.setattr(QuerySet, "update", update_after_a_restart)
    assert services.deliver(outbox_id=row.pk) == OutboxStatus.SENT

    row.refresh_from_db()
    assert (row.status, row.locked_until) == (OutboxStatus.SENT, None)  # so no sweep sends it again
    assert len(mailoutbox) == 1 and dropped
    assert [r.getMessage() for r in caplog.records if r.name == "hipclinic.outbox"] == [
        f"outbox record-sent retry id={row.pk} error=OperationalError"
    ]
