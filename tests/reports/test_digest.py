"""The managers' weekly digest through the outbox: once an ISO week, from Monday's digest time (07:00).

The clinic is pinned to UTC and the clock to the Monday of the digest, so the week covered
and the compliance figures (read "today") are the same at any hour the suite runs.
"""

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.roles import Role
from apps.notifications import reminders
from apps.notifications.models import OutboxEmail
from apps.ops.policy import clinic_policy as read_policy
from apps.reports import figures
from apps.reports.reminders import KIND_MANAGER_DIGEST, headline, queue_manager_digests
from tests.factories import UserFactory
from tests.reports.test_figures import build

MONDAY = date(2026, 3, 23)
WEEK = (date(2026, 3, 16), date(2026, 3, 22))  # the Monday to Sunday before
DIGEST = datetime.combine(MONDAY, time(7), tzinfo=UTC)  # the default digest time, clinic time (UTC here)

pytestmark = pytest.mark.usefixtures("clinic_in_utc")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(DIGEST, tick=False):
        yield


@pytest.fixture
def clinic(db):
    """A small clinic's rows over the five weeks to the end of the week covered (and a little after)."""
    build(2, WEEK[0] - timedelta(days=28), WEEK[1])


def digests():
    return list(OutboxEmail.objects.filter(kind=KIND_MANAGER_DIGEST).order_by("pk"))


def test_each_manager_gets_one_digest_a_week_however_often_the_scan_runs(manager, clinic):
    other = UserFactory(username="second-manager", role=Role.CLINIC_MANAGER)
    UserFactory(username="a-therapist", role=Role.THERAPIST)
    UserFactory(username="a-desk", role=Role.FRONT_DESK)

    assert queue_manager_digests(DIGEST) == 2
    assert queue_manager_digests(DIGEST + timedelta(minutes=5)) == 0  # beat's next run
    assert queue_manager_digests(DIGEST + timedelta(days=3, hours=5)) == 0  # later the same week

    emails = digests()
    assert [(e.to_email, e.key) for e in emails] == [
        (manager.email, f"manager-digest:{manager.pk}:2026-W13"),
        (other.email, f"manager-digest:{other.pk}:2026-W13"),
    ]
    assert emails[0].send_after == DIGEST
    assert emails[0].subject == "The clinic's week: 16 Mar to 22 Mar 2026"


def test_the_next_week_brings_the_next_digest(manager, clinic):
    assert queue_manager_digests(DIGEST) == 1
    assert queue_manager_digests(DIGEST + timedelta(days=7)) == 1
    assert [e.key.rsplit(":", 1)[1] for e in digests()] == ["2026-W13", "2026-W14"]


def test_nothing_before_mondays_digest_time_and_the_time_is_the_clinics_choice(
    manager, clinic_policy, django_assert_num_queries
):
    read_policy()  # read once per task, before the scan
    with django_assert_num_queries(0):
        assert queue_manager_digests(DIGEST - timedelta(minutes=1)) == 0
    assert queue_manager_digests(DIGEST.replace(hour=0, minute=5)) == 0

    clinic_policy(therapist_digest_time=time(9, 30))
    assert queue_manager_digests(DIGEST.replace(hour=9, minute=29)) == 0
    assert queue_manager_digests(DIGEST.replace(hour=9, minute=30)) == 1


def test_a_scan_that_first_runs_later_in_the_week_still_sends_it(manager):
    assert queue_manager_digests(DIGEST + timedelta(days=1)) == 1  # beat down all Monday
    assert digests()[0].key.endswith(":2026-W13")
    assert "16 March" in digests()[0].body_text  # still the week before


def test_the_digest_follows_the_clinics_own_day_and_hour(manager, settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "America/New_York"  # UTC-4 on 23 March 2026
    assert queue_manager_digests(DIGEST) == 0  # 03:00 on Monday in New York
    assert queue_manager_digests(DIGEST + timedelta(hours=4)) == 1  # 07:00 there
    assert digests()[0].key.endswith(":2026-W13")


def test_no_digest_for_a_manager_without_e_mail_or_no_longer_active(db):
    UserFactory(username="no-mail", role=Role.CLINIC_MANAGER, email="")
    UserFactory(username="left", role=Role.CLINIC_MANAGER, is_active=False)
    assert queue_manager_digests(DIGEST) == 0
    assert digests() == []


def test_the_figures_are_those_of_the_previous_week(manager, clinic, settings):
    found = figures.summary(start=WEEK[0], end=WEEK[1], now=DIGEST)
    # The week is not empty: every comparison below compares something.
    assert found["visits"] and found["charges_total"] and found["outcomes"]["by_measure"]["nprs"]["with_follow_up"]

    assert queue_manager_digests(DIGEST) == 1
    [email] = digests()
    body = email.body_text
    assert "for the week from Monday 16 March to Sunday 22 March 2026" in body
    assert f"- Visits: {found['visits']}\n" in body
    assert f"- New referrals: {found['new_referrals']}\n" in body
    assert f"- Charges: {found['charges_total']:.2f} USD\n" in body
    assert f"- Payments: {found['payments_total']:.2f} USD\n" in body
    assert f"- Outstanding balance: {found['outstanding_balance']:.2f} USD\n" in body
    assert (f"- Overdue: {found['overdue_progress_reports']} progress reports, "
            f"{found['overdue_recertifications']} re-certifications, {found['unsigned_notes']} unsigned notes") in body
    nprs = found["outcomes"]["by_measure"]["nprs"]
    assert f"NPRS {nprs['share_reaching_mcid'] * 100:.1f}% of {nprs['with_follow_up']}" in body
    for label, value in headline(found, currency="USD"):
        assert f"- {label}: {value}\n" in body
        assert value in email.body_html
    assert f"\n{settings.SITE_URL}/reports/\n" in body
    assert f'href="{settings.SITE_URL}/reports/"' in email.body_html


def test_the_digest_names_no_patient(manager, clinic):
    from apps.patients.models import Patient

    Patient.objects.update(first_name="Priscilla", last_name="Privatova")  # names no staff member has
    queue_manager_digests(DIGEST)
    [email] = digests()
    for patient in Patient.objects.all():
        for private in (patient.first_name, patient.last_name, patient.record_number):
            assert private not in email.body_text and private not in email.body_html, private


def test_the_reports_app_registers_the_digest_scan():
    assert reminders.REMINDER_SCANS[KIND_MANAGER_DIGEST] is queue_manager_digests


def test_the_command_queues_the_digest_once(manager):
    first, second = StringIO(), StringIO()
    call_command("send_due_reminders", "--at", DIGEST.isoformat(), stdout=first)
    call_command("send_due_reminders", "--at", (DIGEST + timedelta(minutes=5)).isoformat(), stdout=second)

    assert "manager-digest: 1" in first.getvalue().splitlines()
    assert "manager-digest: 0" in second.getvalue().splitlines()
    assert len(digests()) == 1


def test_the_scan_makes_the_same_queries_for_one_manager_or_several(manager, clinic, django_assert_num_queries):
    read_policy()  # read once per task, before the scan: not counted here
    with CaptureQueriesContext(connection) as figures_alone:
        figures.summary(start=WEEK[0], end=WEEK[1], now=DIGEST)
    for count in (1, 3):
        OutboxEmail.objects.all().delete()
        for n in range(count - 1):
            UserFactory(username=f"manager-{count}-{n}", role=Role.CLINIC_MANAGER)
        # the managers; the keys already queued; the figures; one INSERT
        with django_assert_num_queries(2 + len(figures_alone.captured_queries) + 1):
            assert queue_manager_digests(DIGEST) == count
        with django_assert_num_queries(2):  # the managers and the keys: everyone has this week's
            assert queue_manager_digests(DIGEST) == 0

