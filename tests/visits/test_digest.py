"""The therapists' daily digest through the outbox: once a clinic day, from the digest time (07:00).

The clinic is pinned to UTC; each test passes the scan its ``now`` (and pins the clock
where a service reads it), so the outcome is the same at any hour the suite runs.
"""

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from apps.accounts.roles import Role
from apps.notifications import reminders
from apps.notifications.models import OutboxEmail
from apps.visits import services
from apps.visits.reminders import KIND_THERAPIST_DIGEST, queue_therapist_digests
from tests.conftest import PASSWORD
from tests.factories import AppointmentFactory, PatientFactory, TherapistFactory, UserFactory

START = date(2026, 3, 2)
TODAY = date(2026, 3, 20)  # a Friday
DIGEST = datetime.combine(TODAY, time(7), tzinfo=UTC)  # the default digest time, clinic time (UTC here)

pytestmark = pytest.mark.usefixtures("clinic_in_utc")


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture
def rota(therapist):
    return TherapistFactory(user=therapist, display_name="Theo Therapist")


@pytest.fixture
def assistant(db):
    return UserFactory(username="assistant", first_name="Ada", last_name="Assist", role=Role.ASSISTANT,
                       password=PASSWORD)


def on_plan(therapist, **patient_fields):
    patient = PatientFactory(**patient_fields)
    services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=3,
                         duration_weeks=8, started_on=START, diagnoses=[("M16.11", "Osteoarthritis of the right hip")])
    return patient


def report_due_tomorrow(therapist, rota, **patient_fields):
    """Nine visits done, the tenth booked for tomorrow: a progress report falls due within the week."""
    patient = on_plan(therapist, **patient_fields)
    for n in range(9):
        AppointmentFactory(patient=patient, therapist=rota, start=at(START + timedelta(days=2 * n)), status="completed")
    AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY + timedelta(days=1)), status="booked")
    return patient


def late_notes(therapist, rota, assistant):
    """A draft of the therapist's started two days ago, and an assistant's note signed three days ago."""
    patient = on_plan(therapist, first_name="Lena", last_name="Late")
    with time_machine.travel(at(TODAY - timedelta(days=3), 12), tick=False):
        visit = AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY - timedelta(days=3), 9),
                                   status="completed")
        services.sign_note(note=services.start_note(appointment=visit, author=assistant), signer=assistant,
                           password=PASSWORD)
    with time_machine.travel(at(TODAY - timedelta(days=2), 12), tick=False):
        visit = AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY - timedelta(days=2), 9),
                                   status="completed")
        services.start_note(appointment=visit, author=therapist)
    return patient


def digests():
    return list(OutboxEmail.objects.filter(kind=KIND_THERAPIST_DIGEST).order_by("pk"))


def test_each_therapist_gets_one_digest_a_day_listing_what_is_due_and_late(therapist, rota, assistant):
    due_patient = report_due_tomorrow(therapist, rota, first_name="Tess", last_name="Tenth")
    late_patient = late_notes(therapist, rota, assistant)

    assert queue_therapist_digests(DIGEST) == 1
    assert queue_therapist_digests(DIGEST + timedelta(minutes=5)) == 0  # beat's next run
    assert queue_therapist_digests(DIGEST + timedelta(hours=10)) == 0  # the same clinic day

    [email] = digests()
    assert email.key == f"therapist-digest:{therapist.pk}:2026-03-20"
    assert email.to_email == therapist.email and email.send_after == DIGEST
    assert email.subject == "Your day: 3 plan-of-care items due or late (Friday 20 March 2026)"
    body = email.body_text
    assert f"- {due_patient.record_number}: Progress report due at visit 10 (21 Mar 2026)." in body
    assert f"- {late_patient.record_number}: Daily note of the visit on Wed 18 Mar\n" in body  # their own draft
    assert f"- {late_patient.record_number}: Daily note of the visit on Tue 17 Mar, by Ada Assist" in body
    assert "/chart/day/" in body
    assert "/chart/day/" in email.body_html and due_patient.record_number in email.body_html
    for private in ("Tess", "Tenth", "Lena", "Late,", "M16.11", "Osteoarthritis", "Subjective"):
        assert private not in body and private not in email.body_html, private


def test_the_next_clinic_day_brings_the_next_digest(therapist, rota):
    report_due_tomorrow(therapist, rota)
    assert queue_therapist_digests(DIGEST) == 1
    assert queue_therapist_digests(DIGEST + timedelta(days=1)) == 1  # the report is now due today
    assert [e.key.rsplit(":", 1)[1] for e in digests()] == ["2026-03-20", "2026-03-21"]


def test_nothing_before_the_digest_time_and_the_time_is_the_clinics_choice(therapist, rota, clinic_policy):
    report_due_tomorrow(therapist, rota)
    assert queue_therapist_digests(DIGEST - timedelta(minutes=1)) == 0
    assert queue_therapist_digests(DIGEST.replace(hour=0, minute=5)) == 0

    clinic_policy(therapist_digest_time=time(9, 30))
    assert queue_therapist_digests(DIGEST.replace(hour=9, minute=29)) == 0
    assert queue_therapist_digests(DIGEST.replace(hour=9, minute=30)) == 1


def test_the_digest_follows_the_clinics_own_day_and_hour(therapist, rota, settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "America/New_York"  # UTC-4 on 20 March 2026
    report_due_tomorrow(therapist, rota)
    assert queue_therapist_digests(DIGEST) == 0  # 03:00 in New York
    assert queue_therapist_digests(DIGEST + timedelta(hours=4)) == 1  # 07:00 there
    assert digests()[0].key.endswith(":2026-03-20")


def test_nothing_is_sent_when_nothing_is_due_or_late(therapist, rota):
    patient = on_plan(therapist)  # a progress report due at visit 10, with no visit booked: not dated yet
    AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY - timedelta(days=1)), status="completed")
    assert queue_therapist_digests(DIGEST) == 0
    assert digests() == []


def test_with_the_clock_off_only_late_notes_are_sent(therapist, rota, assistant, clinic_policy):
    due_patient = report_due_tomorrow(therapist, rota)
    late_notes(therapist, rota, assistant)
    clinic_policy(plan_of_care_clock=False)

    assert queue_therapist_digests(DIGEST) == 1
    body = digests()[0].body_text
    assert "Due within a week" not in body and due_patient.record_number not in body
    assert "Drafts still unsigned after 24 hours" in body and "co-signature for more than 48 hours" in body


def test_late_means_after_the_clinics_hours(therapist, rota, assistant, clinic_policy):
    late_notes(therapist, rota, assistant)  # a draft 43 h old, an assistant's note signed 67 h ago
    clinic_policy(unsigned_note_hours=48, cosign_hours=72)
    assert queue_therapist_digests(DIGEST) == 0


def test_an_assistants_late_draft_goes_to_them_and_to_the_plans_therapist(therapist, rota, assistant):
    patient = on_plan(therapist)
    with time_machine.travel(at(TODAY - timedelta(days=2), 12), tick=False):
        visit = AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY - timedelta(days=2)),
                                   status="completed")
        services.start_note(appointment=visit, author=assistant)

    assert queue_therapist_digests(DIGEST) == 2
    by_user = {email.to_email: email.body_text for email in digests()}
    assert "Daily note of the visit on Wed 18 Mar\n" in by_user[assistant.email]
    assert "Daily note of the visit on Wed 18 Mar, by Ada Assist" in by_user[therapist.email]


def test_the_visits_app_registers_the_digest_scan():
    assert reminders.REMINDER_SCANS[KIND_THERAPIST_DIGEST] is queue_therapist_digests


def test_the_command_queues_the_digest_once(therapist, rota, assistant):
    report_due_tomorrow(therapist, rota)
    first, second = StringIO(), StringIO()
    call_command("send_due_reminders", "--at", DIGEST.isoformat(), stdout=first)
    call_command("send_due_reminders", "--at", (DIGEST + timedelta(minutes=5)).isoformat(), stdout=second)

    assert "therapist-digest: 1" in first.getvalue().splitlines()
    assert "therapist-digest: 0" in second.getvalue().splitlines()
    assert len(digests()) == 1


@pytest.mark.postgres  # SQLite splits one bulk INSERT into batches of 999 parameters
def test_the_scan_makes_the_same_queries_for_few_or_many_plans(
    therapist, rota, assistant, django_assert_num_queries
):
    from apps.ops.policy import clinic_policy

    clinic_policy()  # read once per task, before the scan: not counted here
    for count in (2, 40):
        OutboxEmail.objects.all().delete()
        for _ in range(count // 2):  # each patient seen by another rota: no two visits of one rota overlap
            report_due_tomorrow(therapist, TherapistFactory())
            late_notes(therapist, TherapistFactory(), assistant)
        # the open plans with patient and therapist; their visits, report notes and certifications;
        # the late drafts; the notes awaiting co-signature; the keys already queued; one INSERT
        with django_assert_num_queries(8):
            assert queue_therapist_digests(DIGEST) == 1
        with django_assert_num_queries(7):  # everything again but the INSERT
            assert queue_therapist_digests(DIGEST) == 0
