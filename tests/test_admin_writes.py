"""Admin pages write through the services, as the API and the desk do: the same rules, the same history."""

from datetime import date, time, timedelta

import pytest
from django.utils import timezone

from apps.followups.models import FollowUp, FollowUpStatus, SessionLog
from apps.scheduling.models import WaitlistEntry, WaitlistStatus, WorkingHours
from tests.factories import ProgramFactory, TherapistFactory, appointment_kind

pytestmark = pytest.mark.django_db


def test_a_follow_up_that_will_not_happen_is_cancelled_once_and_a_booked_one_is_not(client, therapist):
    program = ProgramFactory(active=True)
    first, second, _third = FollowUp.objects.filter(program=program).order_by("week")
    FollowUp.objects.filter(pk=second.pk).update(status=FollowUpStatus.BOOKED)
    client.force_login(therapist)

    response = client.post("/admin/followups/followup/", {"action": "cancel_followup",
                                                           "_selected_action": [first.pk, second.pk]}, follow=True)

    page = response.content.decode()
    assert "Follow-ups cancelled: 1." in page and "Only a follow-up still to book can be cancelled." in page
    assert [f.status for f in FollowUp.objects.filter(program=program).order_by("week")] == [
        FollowUpStatus.CANCELLED, FollowUpStatus.BOOKED, FollowUpStatus.TO_BOOK]


def test_the_follow_up_page_is_read_only(client, therapist):
    followup = FollowUp.objects.filter(program=ProgramFactory(active=True)).first()
    client.force_login(therapist)

    client.post(f"/admin/followups/followup/{followup.pk}/change/", {"status": "booked", "week": 9})

    followup.refresh_from_db()
    assert (followup.status, followup.week) == (FollowUpStatus.TO_BOOK, 2)


def test_a_waiting_patient_is_withdrawn_from_the_waitlist(client, frontdesk, patient):
    entry = WaitlistEntry.objects.create(patient=patient, kind=appointment_kind(), earliest=timezone.localdate(),
                                         latest=timezone.localdate() + timedelta(days=7), created_by=frontdesk)
    client.force_login(frontdesk)

    client.post("/admin/scheduling/waitlistentry/",
                {"action": "withdraw_from_waitlist", "_selected_action": [entry.pk]})

    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WITHDRAWN


def test_a_therapists_overlapping_hours_are_refused_next_to_the_hours(client, manager):
    therapist = TherapistFactory(hours=[(0, time(9), time(13))])
    block = therapist.working_hours.get()
    client.force_login(manager)
    data = {"user": therapist.user_id, "display_name": therapist.display_name, "is_active": "on",
            "working_hours-TOTAL_FORMS": 2, "working_hours-INITIAL_FORMS": 1, "working_hours-MIN_NUM_FORMS": 0,
            "working_hours-MAX_NUM_FORMS": 1000,
            "working_hours-0-id": block.pk, "working_hours-0-therapist": therapist.pk, "working_hours-0-weekday": 0,
            "working_hours-0-start_time": "09:00", "working_hours-0-end_time": "13:00",
            "working_hours-1-therapist": therapist.pk, "working_hours-1-weekday": 0,
            "working_hours-1-start_time": "12:00", "working_hours-1-end_time": "17:00"}

    refused = client.post(f"/admin/scheduling/therapist/{therapist.pk}/change/", data)
    data["working_hours-1-start_time"] = "13:00"
    accepted = client.post(f"/admin/scheduling/therapist/{therapist.pk}/change/", data)

    assert refused.status_code == 200 and "Monday 09:00-13:00 and Monday 12:00-17:00 overlap." in (
        refused.content.decode())
    assert accepted.status_code == 302
    assert sorted((b.start_time, b.end_time) for b in WorkingHours.objects.filter(therapist=therapist)) == [
        (time(9), time(13)), (time(13), time(17))]


def test_an_in_clinic_session_logged_in_the_admin_goes_through_the_logging_rules(client, therapist):
    program = ProgramFactory(active=True, start_date=date.today() - timedelta(days=3))
    item = program.items.get()
    client.force_login(therapist)
    data = {"program": program.pk, "session_date": "", "effort": "about_right", "note": "",
            "items-TOTAL_FORMS": 1, "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 1000,
            "items-0-exercise": item.exercise_id, "items-0-sets_done": 2, "items-0-last_set_amount": 12,
            "items-0-pain_during": 1, "items-0-next_morning": ""}

    future = client.post("/admin/followups/sessionlog/add/", {**data, "session_date": "2999-01-01"})
    saved = client.post("/admin/followups/sessionlog/add/", {**data, "session_date": program.patient.today()})

    assert future.status_code == 200 and "This day has not happened yet." in future.content.decode()
    assert saved.status_code == 302
    log = SessionLog.objects.get()
    assert (log.source, log.logged_by, log.items.get().item) == ("clinic", therapist, item)
