"""The clinic's policy: one row a manager edits in the admin, kept in history, read once per request or task."""

from datetime import UTC, date, datetime, time

import pytest
import time_machine
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.signals import request_started
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.notifications.models import OutboxEmail
from apps.notifications.reminders import run_due_scans
from apps.notifications.services import message_bodies
from apps.notifications.tasks import queue_due_reminders
from apps.ops.models import ClinicPolicy
from apps.ops.policy import clinic_policy
from apps.ops.services import update_clinic_policy
from tests.followups.test_reminders import one_program

pytestmark = pytest.mark.django_db

CHANGE_URL = reverse("admin:ops_clinicpolicy_change", args=[1])


def form_data(policy: ClinicPolicy, **changes) -> dict:
    """What the admin's change form posts: every field as it stands, with ``changes``."""
    data = {}
    for field in ClinicPolicy._meta.fields:
        if field.name in ("id", "updated_at"):
            continue
        value = getattr(policy, field.name)
        if isinstance(value, bool):
            if value:
                data[field.name] = "on"
            continue
        data[field.name] = value.strftime("%H:%M") if isinstance(value, time) else value
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def test_the_clinic_starts_with_the_documented_defaults():
    policy = clinic_policy()

    assert (policy.followup_week_numbers, policy.followup_flag_after_days) == ([2, 4, 6], 7)
    assert policy.missed_session_days == 4
    assert (policy.quiet_hours, policy.quiet_hours_start, policy.quiet_hours_end) == (True, time(21), time(8))
    assert (policy.progression_auto_apply, policy.knee_hold_pass_seconds, policy.lsi_deficit_below_percent) == (
        False, 10, 90)
    assert ClinicPolicy.objects.count() == 1


def test_the_admin_list_opens_the_one_row(client, manager):
    client.force_login(manager)

    response = client.get(reverse("admin:ops_clinicpolicy_changelist"))

    assert response.status_code == 302 and response["Location"] == CHANGE_URL
    assert client.get(reverse("admin:ops_clinicpolicy_add")).status_code == 403
    assert client.post(reverse("admin:ops_clinicpolicy_delete", args=[1])).status_code == 403


def test_a_managers_change_to_the_nudge_days_holds_from_the_next_reminder_scan(client, manager, therapist):
    # Last session three days ago: under the default (4 days) no nudge is due.
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    program = one_program(therapist, start=date(2026, 11, 2), last_log=date(2026, 11, 20))
    assert run_due_scans(now)["missed-session"] == 0

    client.force_login(manager)
    response = client.post(CHANGE_URL, form_data(clinic_policy(), missed_session_days=2))

    assert response.status_code == 302, response.content.decode()[:2000]
    assert run_due_scans(now)["missed-session"] == 1
    assert OutboxEmail.objects.filter(kind="missed-session", patient=program.patient).count() == 1
    change = ClinicPolicy.history.latest()
    assert (change.history_user, change.missed_session_days) == (manager, 2)


def test_a_managers_change_to_quiet_hours_holds_for_the_next_scan_task(client, manager, therapist):
    # Monday 21:30 in London: inside the default quiet hours, outside 22:00-07:00.
    now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)
    one_program(therapist, start=date(2026, 11, 2), last_log=date(2026, 11, 16))
    client.force_login(manager)
    client.post(CHANGE_URL, form_data(clinic_policy(), quiet_hours_start="22:00", quiet_hours_end="07:00"))

    with time_machine.travel(now, tick=False):
        queue_due_reminders.apply()  # the beat task, run as the worker runs it

    nudge = OutboxEmail.objects.get(kind="missed-session")
    assert nudge.send_after == now  # not held until 08:00


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"followup_weeks": "2, x"}, "followup_weeks", "List whole weeks separated by commas"),
        ({"followup_weeks": "6, 4"}, "followup_weeks", "in rising order"),
        ({"followup_weeks": "0, 60"}, "followup_weeks", "from 1 to 52"),
        ({"quiet_hours_start": "21:00", "quiet_hours_end": "21:00"}, "quiet_hours_end", "another time"),
        ({"missed_session_days": "0"}, "missed_session_days", "greater than or equal to 1"),
        ({"front_desk_email": "not an address"}, "front_desk_email", "valid email"),
    ],
)
def test_bad_values_are_refused_next_to_their_field_and_nothing_changes(client, manager, changes, field, message):
    client.force_login(manager)

    response = client.post(CHANGE_URL, form_data(clinic_policy(), **changes))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert ClinicPolicy.objects.get().followup_weeks == "2, 4, 6"
    assert not ClinicPolicy.history.filter(history_type="~").exists()


@pytest.mark.parametrize(("role", "view", "change"), [("frontdesk", 403, 403), ("therapist", 200, 403)])
def test_only_the_manager_changes_the_policy(client, request, role, view, change):
    client.force_login(request.getfixturevalue(role))

    assert client.get(CHANGE_URL).status_code == view
    assert client.post(CHANGE_URL, form_data(clinic_policy(), missed_session_days=9)).status_code == change
    assert ClinicPolicy.objects.get().missed_session_days == 4


def test_the_policy_is_read_once_per_request_and_afresh_in_the_next():
    with CaptureQueriesContext(connection) as queries:
        clinic_policy(), clinic_policy()
    assert len(queries) == 1

    # Another process (the admin's web worker) changes the row: this process notices at its next request.
    ClinicPolicy.objects.update(missed_session_days=5)
    assert clinic_policy().missed_session_days == 4
    request_started.disconnect(close_old_connections)  # the test's own connection must stay open
    try:
        request_started.send(sender=None)
    finally:
        request_started.connect(close_old_connections)
    assert clinic_policy().missed_session_days == 5


def test_every_patient_email_ends_with_the_clinics_details(clinic_policy, therapist):
    clinic_policy(clinic_name="Riverside Hip Clinic", address="1 River Road\nKingston", phone="020 7946 0000",
                  email_closing="Open Monday to Friday, 08:30-17:00.")
    one_program(therapist, start=date(2026, 11, 2), last_log=date(2026, 11, 16))
    run_due_scans(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))

    # The nudge is rendered when it is sent: read it as the worker will send it.
    body_text, body_html, _ = message_bodies(OutboxEmail.objects.get(kind="missed-session"))
    footer = body_text.split("\n--\n", 1)[1]
    assert footer.startswith("Open Monday to Friday, 08:30-17:00.\nRiverside Hip Clinic\n1 River Road\nKingston\n"
                             "020 7946 0000\nDon't want these e-mails?")
    for text in ("Riverside Hip Clinic", "1 River Road<br>Kingston", "020 7946 0000", "Open Monday to Friday"):
        assert text in body_html


def test_a_retired_environment_variable_is_reported_as_ignored(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_WEEKS", "3,6")

    warnings = [m for m in run_checks() if m.id == "hipclinic.W002"]

    assert len(warnings) == 1
    assert "FOLLOWUP_WEEKS" in warnings[0].msg and "Clinic policy" in warnings[0].hint


def test_the_migration_keeps_a_deployments_old_environment_values(monkeypatch):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("apps.ops.migrations.0003_clinic_policy")
    ClinicPolicy.objects.all().delete()
    monkeypatch.setenv("FOLLOWUP_WEEKS", "3, 6")
    monkeypatch.setenv("PROGRESSION_AUTO_APPLY", "yes")
    monkeypatch.setenv("MISSED_SESSION_DAYS", "not a number")

    migration.create_policy(apps, None)

    policy = ClinicPolicy.objects.get()
    assert (policy.followup_weeks, policy.progression_auto_apply, policy.missed_session_days) == ("3, 6", True, 4)


def test_an_old_value_that_breaks_the_rules_is_caught_when_the_row_is_next_saved():
    policy = clinic_policy()
    policy.followup_weeks = "4, 2"

    with pytest.raises(ValidationError, match="rising order"):
        update_clinic_policy(policy=policy, changed_by=None)
    assert ClinicPolicy.objects.get().followup_weeks == "2, 4, 6"
