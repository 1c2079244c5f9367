"""The missed-session scan against the per-program rule it replaces, across zones and dates.

On PostgreSQL the scan is one INSERT ... SELECT that works out each patient's date and
quiet hours in SQL; on SQLite it runs row by row in Python. Either way it must queue
exactly the nudges that the obvious per-program loop (the patient's own date, their last
log or the start date, one nudge a week) would queue, and the e-mail must read as before
once it is sent.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.db.models import Max

from apps.followups import reminders
from apps.followups.models import SessionLog
from apps.followups.reminders import KIND_MISSED_SESSION, queue_missed_session_nudges
from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.services import send_time
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from apps.prescriptions.models import PatientLink, Program, ProgramStatus
from apps.prescriptions.services import link_from_token
from hipclinic.zones import iso_week
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Monday 23 November 2026, 14:30 UTC: already Tuesday 24 November east of about UTC+9:30,
# and night (quiet hours, 21:00-08:00) in Sydney, Tokyo, Auckland, Kiritimati and Los Angeles.
NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
UNKNOWN_ZONE = "Mars/Olympus_Mons"  # not an IANA name: the clinic's zone applies, as Patient.zone says
ZONES = ["Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney",
         "Pacific/Kiritimati", UNKNOWN_ZONE]
ROW_FIELDS = ["key", "kind", "patient_id", "to_email", "subject", "text_template", "html_template", "context",
              "send_after", "body_text", "body_html", "headers", "attachments", "status", "attempts"]


@pytest.fixture(autouse=True)
def _clinic_in_auckland(settings):
    # The clinic's zone is where an unknown zone name falls back to: Auckland is on Tuesday at NOW.
    settings.CLINIC_TIME_ZONE = "Pacific/Auckland"


@pytest.fixture
def therapist_user():
    return UserFactory(username="dr-scan", role="therapist", email="dr-scan@clinic.test")


def program(therapist, *, zone: str, start: date, last_log: date | None = None, status=ProgramStatus.ACTIVE,
            **patient_fields) -> Program:
    """One program and its patient, without the validators (an unknown zone name is the point of one test)."""
    number = Patient.objects.count()
    fields = {"first_name": f"Pat{number}", "last_name": "Ient", "date_of_birth": date(1960, 1, 1),
              "email": f"p{number}@example.org", "email_consent": True, "time_zone": zone,
              "record_number": f"HC{number:06d}", **patient_fields}
    patient = Patient.objects.bulk_create([Patient(**fields)])[0]
    made = Program.objects.bulk_create([Program(patient=patient, therapist=therapist, start_date=start,
                                                status=status, sessions_per_week=1 + number % 3)])[0]
    if last_log:
        SessionLog.objects.create(program=made, session_date=last_log, submission_key=f"k{made.pk}")
    return made


def many_cases(therapist) -> dict[str, Program]:
    """Programs in every zone on either side of the four-day line, and the ones no nudge may reach."""
    made = {}
    for zone in ZONES:
        for last_log in (date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)):
            made[f"{zone} logged {last_log}"] = program(therapist, zone=zone, start=date(2026, 11, 2),
                                                        last_log=last_log)
        for start in (date(2026, 11, 19), date(2026, 11, 20)):
            made[f"{zone} started {start}"] = program(therapist, zone=zone, start=start)
    london = {"zone": "Europe/London", "start": date(2026, 11, 2), "last_log": date(2026, 11, 10)}
    made["no consent"] = program(therapist, **london, email_consent=False)
    made["archived"] = program(therapist, **london, archived_at=NOW - timedelta(days=1))
    made["no address"] = program(therapist, **london, email="")
    made["draft"] = program(therapist, **london, status=ProgramStatus.DRAFT)
    made["stopped"] = program(therapist, **london, status=ProgramStatus.STOPPED)
    made["logged on the start date"] = program(therapist, zone="Asia/Tokyo", start=date(2026, 11, 16),
                                               last_log=date(2026, 11, 16))
    fresh = made["logged yesterday too"] = program(therapist, **london)
    SessionLog.objects.create(program=fresh, session_date=date(2026, 11, 22), submission_key="fresh")
    for days_ago in (6, 8):  # one nudge a week: six days ago holds the next one back, eight does not
        nudged = made[f"nudged {days_ago} days ago"] = program(therapist, **london)
        OutboxEmail.objects.create(key=f"{KIND_MISSED_SESSION}:{nudged.pk}:earlier", kind=KIND_MISSED_SESSION,
                                   patient=nudged.patient, to_email=nudged.patient.email, subject="s",
                                   body_text="b", status=OutboxStatus.SENT,
                                   send_after=NOW - timedelta(days=days_ago))
    linked = made["with links"] = program(therapist, zone="Australia/Sydney", start=date(2026, 11, 2),
                                          last_log=date(2026, 11, 12))
    for created, expires, revoked in [
        (NOW - timedelta(days=9), NOW + timedelta(days=20), None),  # open, older
        (NOW - timedelta(days=5), NOW + timedelta(days=20), None),  # open, newest: the one to send
        (NOW - timedelta(days=2), NOW + timedelta(days=20), NOW - timedelta(days=1)),  # newer, revoked
        (NOW - timedelta(days=1), NOW - timedelta(hours=1), None),  # newer, expired
    ]:
        link = PatientLink.objects.create(patient=linked.patient, created_by=therapist, expires_at=expires,
                                          revoked_at=revoked)
        PatientLink.objects.filter(pk=link.pk).update(created_at=created)
    return made


def per_program_rule(now: datetime) -> dict[str, dict]:
    """The rule as written before the scan was SQL: one program at a time, in the patient's own date."""
    days = clinic_policy().missed_session_days
    expected = {}
    for each in Program.objects.active().select_related("patient").order_by("pk"):
        patient = each.patient
        if not patient.can_receive_email:
            continue
        today = now.astimezone(patient.zone).date()
        last = each.session_logs.aggregate(last=Max("session_date"))["last"] or each.start_date
        if (today - last).days < days:
            continue
        if OutboxEmail.objects.filter(patient=patient, kind=KIND_MISSED_SESSION,
                                      send_after__gt=now - timedelta(days=7)).exists():
            continue
        link = (PatientLink.objects.filter(patient=patient, revoked_at__isnull=True, expires_at__gt=now)
                .order_by("-created_at").first())
        expected[f"{KIND_MISSED_SESSION}:{each.pk}:{iso_week(today)}"] = {
            "patient_id": patient.pk, "to_email": patient.email, "send_after": send_time(now, patient.zone),
            "context": {"first_name": patient.first_name, "days": (today - last).days,
                        "logged_before": last != each.start_date, "last_date": f"{last:%A} {last.day} {last:%B}",
                        "sessions_per_week": each.sessions_per_week, "program_link": link and link.pk},
        }
    return expected


def queued() -> dict[str, dict]:
    return {
        row["key"]: row
        for row in OutboxEmail.objects.filter(kind=KIND_MISSED_SESSION).exclude(key__endswith=":earlier")
        .values(*ROW_FIELDS)
    }


def test_the_scan_queues_exactly_what_the_per_program_rule_finds_due_in_every_zone(therapist_user):
    made = many_cases(therapist_user)
    expected = per_program_rule(NOW)

    assert queue_missed_session_nudges(NOW) == len(expected)

    rows = queued()
    assert sorted(rows) == sorted(expected)
    for key, row in rows.items():
        assert {field: row[field] for field in expected[key]} == expected[key], key
        assert (row["kind"], row["subject"], row["status"]) == (
            KIND_MISSED_SESSION, "How are your exercises going?", OutboxStatus.PENDING)
        assert (row["text_template"], row["html_template"]) == ("emails/missed_session.txt",
                                                                "emails/missed_session.html")
        assert (row["body_text"], row["body_html"], row["headers"], row["attachments"]) == ("", "", {}, [])

    # The cases that matter, spelled out. London is on Monday: four days since Thursday.
    def due(name):
        return any(key.startswith(f"{KIND_MISSED_SESSION}:{made[name].pk}:") for key in rows)

    assert due("Europe/London logged 2026-11-19") and not due("Europe/London logged 2026-11-20")
    assert due("Europe/London started 2026-11-19") and not due("Europe/London started 2026-11-20")
    # Sydney and Kiritimati are on Tuesday already (east of UTC): Friday is four days back there.
    assert due("Australia/Sydney logged 2026-11-20") and due("Pacific/Kiritimati started 2026-11-20")
    # Tokyo is still on Monday (23:30) and Los Angeles too.
    assert not due("Asia/Tokyo logged 2026-11-20") and not due("America/Los_Angeles logged 2026-11-20")
    # An unknown zone name takes the clinic's date: Tuesday in Auckland.
    assert due(f"{UNKNOWN_ZONE} logged 2026-11-20")
    for name in ("no consent", "archived", "no address", "draft", "stopped", "logged yesterday too",
                 "nudged 6 days ago"):
        assert not due(name), name
    assert due("nudged 8 days ago") and due("logged on the start date")

    by_program = {int(key.split(":")[1]): row for key, row in rows.items()}
    assert by_program[made["logged on the start date"].pk]["context"]["logged_before"] is False
    assert by_program[made["Europe/London logged 2026-11-18"].pk]["context"]["logged_before"] is True
    newest_open = PatientLink.objects.filter(patient=made["with links"].patient, revoked_at__isnull=True,
                                             expires_at__gt=NOW).order_by("-created_at").first()
    assert by_program[made["with links"].pk]["context"]["program_link"] == newest_open.pk

    # Quiet hours where the patient lives: held until 08:00 there; in London's afternoon, at once.
    def local_send_after(name):
        return by_program[made[name].pk]["send_after"]

    assert local_send_after("Europe/London logged 2026-11-18") == NOW
    assert local_send_after("America/New_York logged 2026-11-18") == NOW
    for zone, morning in [("Australia/Sydney", date(2026, 11, 24)), ("Asia/Tokyo", date(2026, 11, 24)),
                          ("America/Los_Angeles", date(2026, 11, 23)), (UNKNOWN_ZONE, date(2026, 11, 24))]:
        local = ZoneInfo("Pacific/Auckland" if zone == UNKNOWN_ZONE else zone)
        assert local_send_after(f"{zone} logged 2026-11-18") == datetime.combine(
            morning, datetime.min.time().replace(hour=8), tzinfo=local), zone


def test_a_second_run_inserts_nothing(therapist_user):
    many_cases(therapist_user)
    first = queue_missed_session_nudges(NOW)
    rows = queued()

    assert first > 0
    assert queue_missed_session_nudges(NOW) == 0
    assert queue_missed_session_nudges(NOW + timedelta(minutes=5)) == 0
    assert queued() == rows

    # A day later others are due, but a nudge holds its patient back for a week.
    later = queue_missed_session_nudges(NOW + timedelta(days=1))
    new_programs = {key.split(":")[1] for key in set(queued()) - set(rows)}
    assert len(new_programs) == later > 0
    assert not new_programs & {key.split(":")[1] for key in rows}


@pytest.mark.postgres
def test_the_single_statement_and_the_row_by_row_scan_write_the_same_rows(therapist_user):
    many_cases(therapist_user)
    with transaction.atomic():
        row_by_row = reminders._queue_missed_session_nudges_row_by_row(NOW)
        expected = queued()
        transaction.set_rollback(True)

    assert reminders._insert_missed_session_nudges(NOW) == row_by_row == len(expected) > 20
    assert queued() == expected


@pytest.mark.smtp
def test_the_nudge_is_rendered_when_sent_with_the_footer_the_program_link_and_unsubscribe(
    therapist_user, smtp_server, clinic_policy
):
    clinic_policy(clinic_name="Hip Clinic North", address="1 Mill Lane", phone="0100 000000",
                  email_closing="Kind regards,")
    made = many_cases(therapist_user)
    linked = made["with links"]
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=ZoneInfo("Australia/Sydney"))
    queue_missed_session_nudges(NOW)
    row = OutboxEmail.objects.get(key__startswith=f"{KIND_MISSED_SESSION}:{linked.pk}:")
    assert row.body_text == ""

    with time_machine.travel(morning, tick=False):
        assert services.deliver(outbox_id=row.pk) == OutboxStatus.SENT

    [message] = smtp_server.messages
    parts = {part.get_content_type(): part.get_payload(decode=True).decode().replace("\r\n", "\n")
             for part in message.walk() if not part.is_multipart()}
    text, html = parts["text/plain"], parts["text/html"]
    assert text.startswith(f"Hello {linked.patient.first_name},")
    assert "We haven't seen a session logged since Thursday 12 November." in text
    assert "Kind regards,\nHip Clinic North\n1 Mill Lane\n0100 000000" in text
    unsubscribe = f"http://127.0.0.1:8000/email/unsubscribe/{services.unsubscribe_token(linked.patient)}/"
    assert f"Don't want these e-mails? Stop them here: {unsubscribe}" in text
    assert "".join(message["List-Unsubscribe"].split()) == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    program_url = next(word for word in text.split() if word.startswith("http://127.0.0.1:8000/p/"))
    token = program_url.removeprefix("http://127.0.0.1:8000/p/").strip("/")
    with time_machine.travel(morning, tick=False):
        assert link_from_token(token) == PatientLink.objects.filter(
            patient=linked.patient, revoked_at__isnull=True, expires_at__gt=NOW).order_by("-created_at").first()
    assert f'href="{program_url}"' in html and "Hip Clinic North" in html
    assert message["Subject"] == "How are your exercises going?"


def test_without_an_open_link_the_nudge_asks_the_clinic_for_one(therapist_user):
    made = program(therapist_user, zone="Europe/London", start=date(2026, 11, 2), last_log=date(2026, 11, 18))

    queue_missed_session_nudges(NOW)

    text, html, headers = services.message_bodies(OutboxEmail.objects.get(patient=made.patient))
    assert "Ask the clinic for a new link to your program." in text
    assert "/p/" not in text and "/p/" not in html
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
