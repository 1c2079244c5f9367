"""Reminders 24 hours ahead: the scan beat runs, and `send_due_reminders` running the same scan by hand."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.notifications import reminders
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.tasks import queue_due_reminders
from apps.ops.policy import clinic_policy
from apps.scheduling.emails import queue_appointment_reminders
from apps.scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory, PatientFactory
from tests.notifications.helpers import bulk_appointments

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_a_reminder_is_queued_only_for_booked_appointments_in_the_next_day_of_consenting_patients(frozen):
    due = AppointmentFactory(start=NOW + timedelta(hours=23))
    AppointmentFactory(start=NOW + timedelta(hours=25))  # too early to remind
    AppointmentFactory(start=NOW - timedelta(minutes=30))  # already started
    AppointmentFactory(start=NOW + timedelta(hours=2), status=AppointmentStatus.CANCELLED)
    AppointmentFactory(start=NOW + timedelta(hours=3), patient=PatientFactory(email_consent=False))
    AppointmentFactory(start=NOW + timedelta(hours=4), patient=PatientFactory(email=""))
    AppointmentFactory(start=NOW + timedelta(hours=5), patient=PatientFactory(archived_at=NOW))

    assert queue_appointment_reminders(NOW) == 1

    row = OutboxEmail.objects.get()
    assert row.key == f"appointment-reminder:{due.pk}:{due.start.isoformat()}"
    assert (row.kind, row.status, row.send_after) == ("appointment-reminder", OutboxStatus.PENDING, NOW)
    assert row.subject == "Reminder: your appointment on Tue 24 Nov at 08:00"  # London is on UTC in November
    assert "unsubscribe" in row.headers["List-Unsubscribe"]


def test_beat_queues_the_reminders_and_they_are_sent(frozen, mailoutbox, django_capture_on_commit_callbacks):
    AppointmentFactory(start=NOW + timedelta(hours=20), patient=PatientFactory(email="ruth@example.org"))

    with django_capture_on_commit_callbacks(execute=True):
        queue_due_reminders.delay()
    with django_capture_on_commit_callbacks(execute=True):
        queue_due_reminders.delay()  # five minutes later: nothing new

    assert [message.to for message in mailoutbox] == [["ruth@example.org"]]
    assert OutboxEmail.objects.get().status == OutboxStatus.SENT


def test_the_command_prints_what_it_queued_and_a_second_run_queues_nothing(frozen):
    bulk_appointments(3, first_start=NOW + timedelta(days=2), step=timedelta(hours=1))
    at = (NOW + timedelta(days=1, hours=12)).isoformat()

    first, second = StringIO(), StringIO()
    call_command("send_due_reminders", "--at", at, stdout=first)
    call_command("send_due_reminders", "--at", at, stdout=second)

    from apps.notifications.reminders import REMINDER_SCANS

    assert "appointment-reminder: 3\n" in first.getvalue()
    assert [line.split(":")[0] for line in first.getvalue().splitlines()] == list(REMINDER_SCANS)
    assert set(second.getvalue().splitlines()) == {f"{kind}: 0" for kind in REMINDER_SCANS}
    assert OutboxEmail.objects.count() == 3


def test_the_command_without_a_time_scans_now(frozen):
    bulk_appointments(2, first_start=NOW + timedelta(hours=1))
    out = StringIO()

    call_command("send_due_reminders", stdout=out)

    assert out.getvalue().startswith("appointment-reminder: 2\n")


def test_a_time_that_is_not_iso_stops_the_command_with_one_line():
    env = {**os.environ, "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, "manage.py", "send_due_reminders", "--at", "tomorrow morning"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "CommandError: --at 'tomorrow morning' is not an ISO time such as 2026-11-24T09:00+00:00"
    ]


def test_a_broken_scan_does_not_hold_back_the_others(frozen, monkeypatch):
    bulk_appointments(1, first_start=NOW + timedelta(hours=1))
    monkeypatch.setitem(reminders.REMINDER_SCANS, "broken-reminder", broken_scan)
    out = StringIO()

    with pytest.raises(CommandError, match="broken-reminder"):
        call_command("send_due_reminders", stdout=out)

    assert "appointment-reminder: 1" in out.getvalue()


def broken_scan(now):
    raise ZeroDivisionError


@pytest.mark.postgres  # SQLite splits one bulk INSERT into batches of 999 parameters
def test_the_reminder_scan_makes_three_queries_for_ten_or_a_thousand_appointments(frozen, django_assert_num_queries):
    clinic_policy()  # read once per task (the e-mails' footer), before the scan: not counted here
    for count in (10, 1000):
        bulk_appointments(count, first_start=NOW + timedelta(hours=1))
        # The appointments with patient, therapist and kind; the keys already queued; one INSERT.
        with django_assert_num_queries(3):
            assert queue_appointment_reminders(NOW) == count


def test_the_admin_outbox_list_makes_the_same_queries_for_ten_or_a_thousand_rows(
    client, manager, django_assert_num_queries
):
    patient = PatientFactory()
    client.force_login(manager)
    for count in (10, 1000):
        OutboxEmail.objects.bulk_create(
            OutboxEmail(key=f"bulk-{count}:{i}", kind="appointment-reminder", patient=patient,
                        to_email=patient.email, subject="s", body_text="b", send_after=timezone.now())
            for i in range(count)
        )
        # Session, user, the authenticator that verified the session (two-factor), role group,
        # permissions (user's and groups'), the filtered COUNT for the paginator (no full
        # count), the page of rows with their patient, the kinds for the filter, and saving
        # the session (savepoint, UPDATE, release).
        with django_assert_num_queries(12):
            response = client.get("/admin/notifications/outboxemail/?status__exact=pending")
        assert response.status_code == 200
