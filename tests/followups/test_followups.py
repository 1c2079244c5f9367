"""Activating a program plans re-assessments; the front desk books them from a list."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from apps.followups.models import FollowUp, FollowUpStatus
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import Exercise, Program, ProgramItem
from tests.factories import ReferralFactory, TherapistFactory, appointment_kind

pytestmark = pytest.mark.django_db


@pytest.fixture
def program(therapist):
    patient = ReferralFactory(cause="prolonged_sitting").patient
    program = Program.objects.create(patient=patient, therapist=therapist, start_date=date(2026, 11, 2))
    ProgramItem.objects.create(program=program, exercise=Exercise.objects.get(slug="seated-knee-raise"), sets=2,
                               dose_low=10, dose_high=15)
    return program


def test_activating_a_program_plans_reassessments_at_weeks_2_4_and_6(program, therapist):
    prescriptions.activate_program(program=program, by=therapist)

    planned = list(FollowUp.objects.filter(program=program).values_list("week", "due_date"))
    assert planned == [(2, date(2026, 11, 16)), (4, date(2026, 11, 30)), (6, date(2026, 12, 14))]


def test_the_front_desk_sees_what_to_book_with_overdue_ones_flagged_and_booking_links_it(
    client, program, therapist, frontdesk
):
    prescriptions.activate_program(program=program, by=therapist)
    week2 = FollowUp.objects.get(program=program, week=2)

    with time_machine.travel("2026-11-24 08:00 +0000", tick=False):
        client.force_login(frontdesk)  # inside: a session from "yesterday" would have timed out
        page = client.get("/desk/followups/").content.decode()
        assert page.count("Book re-assessment") == 3
        assert page.count("Overdue") == 1  # week 2 was due on the 16th: more than a week ago

        desk_therapist = TherapistFactory()
        response = client.post(
            f"/desk/patients/{program.patient_id}/book/?kind=reassessment&followup={week2.pk}",
            {"kind": appointment_kind("reassessment").pk, "therapist": desk_therapist.pk, "date": "2026-11-25",
             "start_time": "10:00"},
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    week2.refresh_from_db()
    assert week2.status == FollowUpStatus.BOOKED and week2.appointment.kind.slug == "reassessment"


def test_a_followup_of_another_patient_is_never_linked(client, program, therapist, frontdesk):
    prescriptions.activate_program(program=program, by=therapist)
    other = ReferralFactory().patient
    week2 = FollowUp.objects.get(program=program, week=2)
    desk_therapist = TherapistFactory()

    with time_machine.travel("2026-11-24 08:00 +0000", tick=False):
        client.force_login(frontdesk)
        client.post(f"/desk/patients/{other.pk}/book/?kind=reassessment&followup={week2.pk}",
                    {"kind": appointment_kind("reassessment").pk, "therapist": desk_therapist.pk, "date": "2026-11-25",
             "start_time": "10:00"})

    week2.refresh_from_db()
    assert week2.status == FollowUpStatus.TO_BOOK and week2.appointment is None


def test_overdue_means_unbooked_a_week_after_its_due_date(program, therapist):
    prescriptions.activate_program(program=program, by=therapist)

    assert FollowUp.objects.overdue(today=date(2026, 11, 23)).count() == 0
    assert list(FollowUp.objects.overdue(today=date(2026, 11, 24)).values_list("week", flat=True)) == [2]
    assert FollowUp.objects.overdue(today=date(2026, 11, 16) + timedelta(days=30)).count() == 2


@pytest.mark.parametrize(
    ("approved", "sent"),
    [
        # Quiet hours (21:00-08:00 where the patient lives): held until the next 08:00 there.
        (datetime(2026, 11, 24, 23, 30), datetime(2026, 11, 25, 8, 0)),
        # The daytime: at once.
        (datetime(2026, 11, 24, 14, 0), datetime(2026, 11, 24, 14, 0)),
    ],
    ids=["at-23h30-local", "at-14h00-local"],
)
def test_a_progression_email_approved_at_night_waits_for_the_patients_morning(
    program, therapist, mailoutbox, django_capture_on_commit_callbacks, approved, sent
):
    from apps.followups.emails import queue_progression_notice
    from apps.notifications import services as outbox
    from apps.notifications.models import OutboxEmail

    new_york = ZoneInfo("America/New_York")  # five hours behind UTC in November: local is not UTC
    approved, sent = approved.replace(tzinfo=new_york), sent.replace(tzinfo=new_york)
    program.patient.time_zone = "America/New_York"
    program.patient.save()
    prescriptions.activate_program(program=program, by=therapist)

    with time_machine.travel(approved, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):  # the send task is queued at commit, if due
            queue_progression_notice(program.versions.get())
        assert OutboxEmail.objects.get(kind="progression").send_after == sent
        if sent > approved:  # held: beat's sweep sends it at 08:00, not a minute before
            assert mailoutbox == []
            clock.move_to(sent - timedelta(minutes=1))
            with django_capture_on_commit_callbacks(execute=True):
                assert outbox.dispatch_due() == 0
            assert mailoutbox == []
            clock.move_to(sent)
            with django_capture_on_commit_callbacks(execute=True):
                assert outbox.dispatch_due() == 1

    assert [message.subject for message in mailoutbox] == ["Your exercises have been updated"]


def test_the_patients_admin_page_shows_weekly_adherence_to_therapists_only(client, program, therapist, frontdesk):
    from apps.followups.models import SessionLog

    prescriptions.activate_program(program=program, by=therapist)
    for day in (2, 4, 9):
        SessionLog.objects.create(program=program, session_date=date(2026, 11, day), submission_key=f"k{day}")
    url = f"/admin/patients/patient/{program.patient_id}/change/"

    with time_machine.travel("2026-11-12 10:00 +0000", tick=False):
        client.force_login(therapist)
        page = client.get(url).content.decode()
        client.force_login(frontdesk)
        desk_page = client.get(url).content.decode()

    assert "2 / 3" in page and "1 / 3" in page  # week 1: the 2nd and 4th; week 2: the 9th
    assert 'data-testid="adherence"' not in desk_page


def test_editing_a_programs_dose_through_the_api_keeps_the_patients_logs_on_the_item(api_client, program, therapist):
    from apps.followups.models import SessionLog, SessionLogItem

    prescriptions.activate_program(program=program, by=therapist)
    item = program.items.get()
    log = SessionLog.objects.create(program=program, session_date=date(2026, 11, 3), submission_key="k1")
    SessionLogItem.objects.create(log=log, item=item, exercise=item.exercise, sets_done=2, last_set_amount=15)
    api_client.force_authenticate(therapist)

    response = api_client.patch(f"/api/v1/programs/{program.pk}/", {"items": [
        {"exercise": "seated-knee-raise", "sets": 3, "dose_low": 12, "dose_high": 16},
        {"exercise": "standing-march", "sets": 2, "dose_low": 8, "dose_high": 12},
    ]}, format="json")

    assert response.status_code == 200, response.json()
    item.refresh_from_db()
    assert (item.sets, item.dose_low, item.dose_high) == (3, 12, 16)  # the same row, updated
    assert SessionLogItem.objects.get().item_id == item.pk
    assert program.items.count() == 2 and program.versions.count() == 2
