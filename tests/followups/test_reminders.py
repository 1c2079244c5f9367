"""The follow-up loop's scheduled e-mails: weekly plan, missed-session nudge, therapist alert, follow-up digest.

Scans are called directly with a ``now``; the sending tests move the clock with
time_machine so that the outbox sweep sees quiet hours end.
"""

from datetime import UTC, date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat, LPad

from apps.followups.models import FollowUp, FollowUpStatus, SessionLog, SessionLogItem
from apps.followups.reminders import (
    queue_followup_due,
    queue_missed_session_nudges,
    queue_therapist_alerts,
    queue_weekly_plans,
)
from apps.notifications import reminders, services
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.quiet_hours import next_allowed
from apps.notifications.tasks import queue_due_reminders
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from apps.patients.services import set_email_consent
from apps.prescriptions.models import Exercise, PatientLink, Program, ProgramItem, ProgramStatus
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday, 09:00 in London (GMT in November)


@pytest.fixture(autouse=True)
def _clinic_in_london(settings):
    # NOW is 09:00 in the clinic only if the clinic is in London (or UTC): the follow-up
    # digest and the alerts keep the clinic's hours. Tests about another zone set it themselves.
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "Europe/London"


# ---------------------------------------------------------------------------- builders


@pytest.fixture
def therapist_user():
    return UserFactory(username="dr-hip", role="therapist", email="dr-hip@clinic.test")


def programs(count: int, *, start: date, therapist, last_log: date | None = None, zone: str = "Europe/London",
             items: bool = False, **patient_fields) -> list[Program]:
    """``count`` active programs, one patient each, written in a few queries (no per-row saves)."""
    patients = Patient.objects.bulk_create(
        Patient(**{"first_name": f"Pat{i}", "last_name": "Ient", "date_of_birth": date(1960, 1, 1),
                   "email": f"p{i}@example.org", "email_consent": True, "time_zone": zone, **patient_fields})
        for i in range(count)
    )
    Patient.objects.filter(pk__in=[p.pk for p in patients]).update(
        record_number=Concat(Value("HC"), LPad(Cast("id", CharField()), 6, Value("0")))
    )
    made = Program.objects.bulk_create(
        Program(patient=patient, therapist=therapist, start_date=start, status=ProgramStatus.ACTIVE)
        for patient in patients
    )
    if last_log:
        SessionLog.objects.bulk_create(
            SessionLog(program=program, session_date=last_log, submission_key=f"k{program.pk}") for program in made
        )
    if items:
        exercise = Exercise.objects.ladder().first()
        ProgramItem.objects.bulk_create(
            ProgramItem(program=program, exercise=exercise, sets=2, dose_low=8, dose_high=12) for program in made
        )
    return made


def one_program(therapist, **kwargs) -> Program:
    return programs(1, therapist=therapist, **kwargs)[0]


def log_item(program: Program, day: date, *, pain=None, morning="", item=None) -> SessionLogItem:
    log = SessionLog.objects.create(program=program, session_date=day, submission_key=f"{program.pk}-{day}-{pain}")
    item = item or ProgramItem.objects.filter(program=program).first()
    return SessionLogItem.objects.create(log=log, item=item, exercise=item.exercise, sets_done=2,
                                         last_set_amount=10, pain_during=pain, next_morning=morning)


def keys() -> list[str]:
    return sorted(OutboxEmail.objects.values_list("key", flat=True))


# ---------------------------------------------------------------------------- quiet hours (pure)


@pytest.mark.parametrize(
    ("local", "zone", "expected_local"),
    [
        pytest.param(datetime(2026, 11, 23, 20, 59), "Europe/London", datetime(2026, 11, 23, 20, 59), id="20:59 goes"),
        pytest.param(datetime(2026, 11, 23, 21, 0), "Europe/London", datetime(2026, 11, 24, 8, 0), id="21:00 waits"),
        pytest.param(datetime(2026, 11, 23, 22, 0), "America/New_York", datetime(2026, 11, 24, 8, 0), id="22:00 NY"),
        pytest.param(datetime(2026, 11, 24, 3, 0), "Asia/Tokyo", datetime(2026, 11, 24, 8, 0), id="03:00 same day"),
        pytest.param(datetime(2026, 11, 24, 8, 0), "Europe/London", datetime(2026, 11, 24, 8, 0), id="08:00 goes"),
        # The clocks change overnight: 08:00 is still 08:00 on the wall.
        pytest.param(datetime(2026, 3, 28, 22, 0), "Europe/London", datetime(2026, 3, 29, 8, 0), id="spring forward"),
        pytest.param(datetime(2026, 10, 24, 22, 0), "Europe/London", datetime(2026, 10, 25, 8, 0), id="fall back"),
        pytest.param(datetime(2026, 11, 1, 1, 30, fold=1), "America/New_York", datetime(2026, 11, 1, 8, 0),
                     id="the repeated hour"),
    ],
)
def test_quiet_hours_move_an_evening_or_night_moment_to_eight_the_next_morning_local(local, zone, expected_local):
    tz = ZoneInfo(zone)
    moment = local.replace(tzinfo=tz).astimezone(UTC)

    result = next_allowed(moment, tz)

    assert result.tzinfo is not None
    assert result.astimezone(tz).replace(tzinfo=None) == expected_local


# ---------------------------------------------------------------------------- weekly plan


def test_the_weekly_plan_goes_only_on_the_chosen_weekday_from_week_two(therapist_user):
    due = one_program(therapist_user, start=MONDAY - timedelta(weeks=2), items=True)  # started on a Monday
    one_program(therapist_user, start=MONDAY - timedelta(days=15), items=True)  # a Sunday: not today
    one_program(therapist_user, start=MONDAY, items=True)  # starts today: week 1 is the program itself
    one_program(therapist_user, start=MONDAY - timedelta(weeks=6), items=True)  # six weeks: over

    assert queue_weekly_plans(NOW) == 1
    assert queue_weekly_plans(NOW + timedelta(days=1)) == 0  # Tuesday

    row = OutboxEmail.objects.get()
    assert row.key == f"weekly-plan:{due.pk}:2026-W48"
    assert (row.kind, row.to_email, row.subject) == ("weekly-plan", "p0@example.org", "Your exercises for week 3")
    assert row.send_after == NOW
    assert "3 sessions this week" in row.body_text
    assert "2 sets of 8-12" in row.body_text


def test_the_weekly_plan_follows_the_patients_calendar_not_utc(therapist_user):
    # 23:30 UTC on Sunday is already Monday 08:30 in Sydney.
    due = one_program(therapist_user, start=MONDAY - timedelta(weeks=1), zone="Australia/Sydney", items=True)
    one_program(therapist_user, start=MONDAY - timedelta(weeks=1), zone="Europe/London", items=True)

    assert queue_weekly_plans(datetime(2026, 11, 22, 21, 30, tzinfo=UTC)) == 1

    assert keys() == [f"weekly-plan:{due.pk}:2026-W48"]


def test_the_weekly_plan_links_the_patients_open_program_link(therapist_user):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=1), items=True)
    PatientLink.objects.create(patient=program.patient, created_by=therapist_user, expires_at=NOW + timedelta(days=9))

    queue_weekly_plans(NOW)

    assert "http://127.0.0.1:8000/p/" in OutboxEmail.objects.get().body_text


# ---------------------------------------------------------------------------- missed-session nudge


def test_a_nudge_goes_after_four_days_without_a_log_counting_from_the_start_when_none(therapist_user):
    four_days = one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=4))
    one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=3))
    never = one_program(therapist_user, start=MONDAY - timedelta(days=4))
    one_program(therapist_user, start=MONDAY - timedelta(days=3))

    assert queue_missed_session_nudges(NOW) == 2

    assert keys() == sorted([f"missed-session:{four_days.pk}:2026-W48", f"missed-session:{never.pk}:2026-W48"])
    row = OutboxEmail.objects.get(key__startswith=f"missed-session:{four_days.pk}:")
    assert "since Thursday 19 November" in services.build_message(row).body  # rendered when sent


def test_the_missed_session_days_are_the_clinics_choice(therapist_user, clinic_policy):
    clinic_policy(missed_session_days=7)
    one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=6))

    assert queue_missed_session_nudges(NOW) == 0


def test_a_patient_is_nudged_at_most_once_a_week(therapist_user):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=5))

    assert queue_missed_session_nudges(NOW) == 1
    assert queue_missed_session_nudges(NOW + timedelta(days=1)) == 0
    assert queue_missed_session_nudges(NOW + timedelta(days=6, hours=23)) == 0  # next Monday 08:00: not yet
    assert queue_missed_session_nudges(NOW + timedelta(days=7)) == 1

    assert keys() == [f"missed-session:{program.pk}:2026-W48", f"missed-session:{program.pk}:2026-W49"]


def test_a_log_stops_the_nudges(therapist_user):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=5))
    SessionLog.objects.create(program=program, session_date=MONDAY - timedelta(days=1), submission_key="fresh")

    assert queue_missed_session_nudges(NOW) == 0


# ---------------------------------------------------------------------------- consent and unsubscribe


def test_patients_without_consent_or_archived_get_none_of_these_emails(therapist_user):
    for fields in ({"email_consent": False}, {"archived_at": NOW}, {"email": ""}):
        programs(1, therapist=therapist_user, start=MONDAY - timedelta(weeks=1), last_log=MONDAY - timedelta(days=5),
                 items=True, **fields)

    assert queue_weekly_plans(NOW) == 0
    assert queue_missed_session_nudges(NOW) == 0
    assert not OutboxEmail.objects.exists()


def test_consent_withdrawn_after_queueing_skips_the_email_at_send_time(therapist_user, mailoutbox):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=5))
    with time_machine.travel(NOW, tick=False):
        queue_missed_session_nudges(NOW)
        set_email_consent(patient=program.patient, consent=False)
        row = OutboxEmail.objects.get()
        services.deliver(outbox_id=row.pk)

    row.refresh_from_db()
    assert row.status == OutboxStatus.SKIPPED
    assert mailoutbox == []


def test_patient_emails_carry_one_click_unsubscribe_and_staff_emails_do_not(therapist_user):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=1), last_log=MONDAY - timedelta(days=5),
                          items=True)
    log_item(program, MONDAY - timedelta(days=5), pain=7)

    queue_weekly_plans(NOW)
    queue_missed_session_nudges(NOW)
    queue_therapist_alerts(NOW)

    # The messages as sent: the nudge is rendered (with its headers) only then.
    by_kind = {row.kind: (row, services.build_message(row)) for row in OutboxEmail.objects.all()}
    for kind in ("weekly-plan", "missed-session"):
        headers = by_kind[kind][1].extra_headers
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/email/unsubscribe/")
        assert "/email/unsubscribe/" in by_kind[kind][1].body
    row, message = by_kind["therapist-alert"]
    assert "List-Unsubscribe" not in message.extra_headers
    assert row.headers == {}
    assert row.patient is None


# ---------------------------------------------------------------------------- quiet hours when sending


@pytest.mark.parametrize(
    ("due", "sent"),
    [
        # Quiet hours (21:00-08:00 where the patient lives): held until the next 08:00 there.
        (datetime(2026, 11, 23, 23, 30), datetime(2026, 11, 24, 8, 0)),
        # The daytime: at once.
        (datetime(2026, 11, 23, 14, 0), datetime(2026, 11, 23, 14, 0)),
    ],
    ids=["at-23h30-local", "at-14h00-local"],
)
def test_a_nudge_due_at_night_is_held_until_08_00_in_the_patients_zone(
    therapist_user, mailoutbox, django_capture_on_commit_callbacks, due, sent
):
    new_york = ZoneInfo("America/New_York")  # five hours behind UTC in November: local is not UTC
    due, sent = due.replace(tzinfo=new_york), sent.replace(tzinfo=new_york)
    one_program(therapist_user, start=MONDAY - timedelta(weeks=2), last_log=MONDAY - timedelta(days=5),
                zone="America/New_York")

    with time_machine.travel(due, tick=False) as clock:
        assert queue_missed_session_nudges(due) == 1
        assert OutboxEmail.objects.get().send_after == sent
        clock.move_to(sent - timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert services.dispatch_due() == 0  # beat's sweep: not a minute early
        clock.move_to(sent)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.dispatch_due() == 1

    assert len(mailoutbox) == 1
    assert OutboxEmail.objects.get().status == OutboxStatus.SENT


def test_quiet_hours_hold_across_the_night_the_clocks_go_back(therapist_user):
    london = ZoneInfo("Europe/London")
    evening = datetime(2026, 10, 24, 22, 0, tzinfo=london)  # BST, UTC+1; GMT from 02:00
    one_program(therapist_user, start=date(2026, 10, 5), last_log=date(2026, 10, 19))

    with time_machine.travel(evening, tick=False):
        assert queue_missed_session_nudges(evening) == 1

    send_after = OutboxEmail.objects.get().send_after
    assert send_after.astimezone(london).replace(tzinfo=None) == datetime(2026, 10, 25, 8, 0)
    assert send_after == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 08:00 GMT, not 08:00 BST (07:00 UTC)


def test_a_weekly_plan_after_midnight_waits_for_the_morning(therapist_user):
    one_program(therapist_user, start=MONDAY - timedelta(weeks=1), items=True, zone="Europe/Berlin")

    assert queue_weekly_plans(datetime(2026, 11, 22, 23, 30, tzinfo=UTC)) == 1  # 00:30 Monday in Berlin

    assert OutboxEmail.objects.get().send_after == datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # 08:00 Berlin


# ---------------------------------------------------------------------------- therapist alerts


@pytest.fixture
def logged_program(therapist_user):
    return one_program(therapist_user, start=MONDAY - timedelta(weeks=2), items=True)


def test_pain_above_five_alerts_the_therapist_and_five_does_not(logged_program):
    alerting = log_item(logged_program, MONDAY - timedelta(days=1), pain=6)
    log_item(logged_program, MONDAY - timedelta(days=3), pain=5)
    log_item(logged_program, MONDAY - timedelta(days=9), pain=8)  # older than a week: history, not news

    assert queue_therapist_alerts(NOW) == 1

    row = OutboxEmail.objects.get()
    assert row.key == f"therapist-alert:{alerting.pk}"
    assert (row.to_email, row.subject) == ("dr-hip@clinic.test", "Alert: pain above 5 logged")
    assert "pain 6 out of 10" in row.body_text
    assert "Pat0" not in row.body_text + row.subject  # record numbers only


def test_worse_next_morning_twice_running_alerts_once(logged_program):
    item = ProgramItem.objects.get(program=logged_program)
    log_item(logged_program, MONDAY - timedelta(days=5), morning="worse")
    second = log_item(logged_program, MONDAY - timedelta(days=3), morning="worse")

    assert queue_therapist_alerts(NOW) == 1

    assert keys() == [f"therapist-alert-worse:{item.pk}:{second.log.session_date.isoformat()}"]
    assert OutboxEmail.objects.get().subject == "Alert: worse the next morning twice running"


@pytest.mark.parametrize("mornings", [("worse", "same"), ("same", "worse"), ("worse", ""), ("better", "worse")])
def test_worse_only_once_in_the_last_two_sessions_does_not_alert(logged_program, mornings):
    log_item(logged_program, MONDAY - timedelta(days=5), morning=mornings[0])
    log_item(logged_program, MONDAY - timedelta(days=3), morning=mornings[1])

    assert queue_therapist_alerts(NOW) == 0


@pytest.mark.parametrize(
    ("logged", "sent"),
    [
        (datetime(2026, 11, 23, 23, 30), datetime(2026, 11, 24, 8, 0)),  # quiet hours in the clinic: the morning
        (datetime(2026, 11, 23, 14, 0), datetime(2026, 11, 23, 14, 0)),  # the daytime: at once
    ],
    ids=["at-23h30-local", "at-14h00-local"],
)
def test_an_alert_at_night_waits_for_the_clinics_morning(logged_program, settings, logged, sent):
    settings.CLINIC_TIME_ZONE = "America/New_York"  # staff mail follows the clinic's hours, not UTC's
    new_york = ZoneInfo("America/New_York")
    logged, sent = logged.replace(tzinfo=new_york), sent.replace(tzinfo=new_york)
    log_item(logged_program, MONDAY, pain=9)

    queue_therapist_alerts(logged)

    assert OutboxEmail.objects.get().send_after == sent


# ---------------------------------------------------------------------------- follow-up digest


def test_the_front_desk_gets_one_digest_a_day_with_record_numbers_and_no_names(therapist_user, clinic_policy):
    clinic_policy(front_desk_email="desk@clinic.test")
    patients = [PatientFactory(first_name=name, last_name="Smith") for name in ("Ada", "Bea", "Cy", "Di")]
    start = MONDAY - timedelta(weeks=3)
    made = [Program.objects.bulk_create([Program(patient=p, therapist=therapist_user, start_date=start,
                                                 status=ProgramStatus.ACTIVE)])[0] for p in patients]
    FollowUp.objects.create(program=made[0], week=2, due_date=MONDAY - timedelta(days=10))  # overdue
    FollowUp.objects.create(program=made[1], week=4, due_date=MONDAY + timedelta(days=3))  # due this week
    FollowUp.objects.create(program=made[2], week=4, due_date=MONDAY + timedelta(days=3), status=FollowUpStatus.BOOKED)
    FollowUp.objects.create(program=made[3], week=6, due_date=MONDAY + timedelta(days=12))  # not yet

    assert queue_followup_due(NOW) == 1
    assert queue_followup_due(NOW + timedelta(hours=6)) == 0  # the same day

    row = OutboxEmail.objects.get()
    assert (row.key, row.to_email, row.patient) == ("followup-due:2026-11-23", "desk@clinic.test", None)
    assert row.subject == "Follow-ups to book: 2 (Monday 23 November 2026)"
    assert patients[0].record_number in row.body_text and patients[1].record_number in row.body_text
    assert patients[2].record_number not in row.body_text and patients[3].record_number not in row.body_text
    assert "(OVERDUE)" in row.body_text
    assert not any(name in row.body_text + row.body_html + row.subject for name in ("Ada", "Bea", "Smith"))


def test_the_digest_is_built_after_eight_in_the_clinic_and_not_when_nothing_is_unbooked(therapist_user):
    program = one_program(therapist_user, start=MONDAY - timedelta(weeks=3))
    FollowUp.objects.create(program=program, week=2, due_date=MONDAY)

    assert queue_followup_due(datetime(2026, 11, 23, 7, 59, tzinfo=UTC)) == 0
    FollowUp.objects.update(status=FollowUpStatus.BOOKED)
    assert queue_followup_due(NOW) == 0
    assert not OutboxEmail.objects.exists()


# ---------------------------------------------------------------------------- idempotence and scale


def everything_due(therapist, count: int) -> list[Program]:
    """``count`` programs due for every kind on NOW: plan day, no log for five days, pain 7, a follow-up."""
    made = programs(count, therapist=therapist, start=MONDAY - timedelta(weeks=2), items=True,
                    last_log=MONDAY - timedelta(days=5))
    logs = {log.program_id: log for log in SessionLog.objects.filter(program__in=made)}
    items = ProgramItem.objects.filter(program__in=made).select_related("exercise")
    SessionLogItem.objects.bulk_create(
        SessionLogItem(log=logs[item.program_id], item=item, exercise=item.exercise, sets_done=2, pain_during=7)
        for item in items
    )
    FollowUp.objects.bulk_create(FollowUp(program=program, week=2, due_date=MONDAY) for program in made)
    return made


SCANS = [queue_weekly_plans, queue_missed_session_nudges, queue_therapist_alerts, queue_followup_due]


def test_running_every_scan_twice_inserts_nothing_the_second_time(therapist_user):
    everything_due(therapist_user, 5)

    first = [scan(NOW) for scan in SCANS]
    count = OutboxEmail.objects.count()
    second = [scan(NOW + timedelta(minutes=5)) for scan in SCANS]

    assert first == [5, 5, 5, 1]
    assert second == [0, 0, 0, 0]
    assert OutboxEmail.objects.count() == count == 16


@pytest.mark.postgres  # SQLite splits one bulk INSERT into batches of 999 parameters
@pytest.mark.parametrize(
    ("scan", "queries"),
    [
        # due programs with patient and link; keys already queued; their items; one INSERT
        (queue_weekly_plans, 4),
        # one INSERT ... SELECT of the due programs (nudged patients excluded, ON CONFLICT for keys queued)
        (queue_missed_session_nudges, 1),
        # alerting log items with program, patient, therapist, exercise; keys queued; one INSERT
        (queue_therapist_alerts, 3),
        # today's digest exists?; the follow-ups with record numbers; one INSERT
        (queue_followup_due, 3),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_each_scan_makes_the_same_queries_for_ten_or_a_thousand_programs(
    scan, queries, therapist_user, django_assert_num_queries
):
    clinic_policy()  # read once per task (quiet hours, the footer), before the scan: not counted here
    for count in (10, 1000):
        OutboxEmail.objects.all().delete()
        everything_due(therapist_user, count)
        with django_assert_num_queries(queries):
            scan(NOW)
        # The next run, with everything queued: the first query (the nudge's and the digest's
        # exclude what was queued) or the first two; never one per program.
        with django_assert_num_queries(1 if scan in (queue_missed_session_nudges, queue_followup_due) else 2):
            assert scan(NOW) == 0


# ---------------------------------------------------------------------------- registry, beat and the command


def test_the_followups_app_registers_its_four_scans_after_the_appointment_reminders():
    assert list(reminders.REMINDER_SCANS.items()) == [
        ("appointment-reminder", reminders.REMINDER_SCANS["appointment-reminder"]),
        ("weekly-plan", queue_weekly_plans), ("missed-session", queue_missed_session_nudges),
        ("therapist-alert", queue_therapist_alerts), ("followup-due", queue_followup_due),
        ("therapist-digest", reminders.REMINDER_SCANS["therapist-digest"]),  # the visits app's, installed after
        ("manager-digest", reminders.REMINDER_SCANS["manager-digest"]),  # the reports app's, installed last
    ]


def test_the_registered_scans_run_from_the_command_and_a_second_run_queues_nothing(therapist_user):
    everything_due(therapist_user, 3)
    at = NOW.isoformat()

    first, second = StringIO(), StringIO()
    call_command("send_due_reminders", "--at", at, stdout=first)
    call_command("send_due_reminders", "--at", at, stdout=second)

    assert first.getvalue().splitlines() == [
        "appointment-reminder: 0", "weekly-plan: 3", "missed-session: 3", "therapist-alert: 3", "followup-due: 1",
        "therapist-digest: 0", "manager-digest: 0",
    ]
    assert second.getvalue().splitlines() == [
        "appointment-reminder: 0", "weekly-plan: 0", "missed-session: 0", "therapist-alert: 0", "followup-due: 0",
        "therapist-digest: 0", "manager-digest: 0",
    ]


def test_beat_queues_and_sends_the_follow_up_emails_exactly_once(
    therapist_user, mailoutbox, django_capture_on_commit_callbacks
):
    everything_due(therapist_user, 2)

    with time_machine.travel(NOW, tick=False):
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                queue_due_reminders.delay()

    assert len(mailoutbox) == 7
    assert sorted(m.subject for m in mailoutbox).count("Your exercises for week 3") == 2
    assert set(OutboxEmail.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
