"""The whole follow-up loop with the real parts: PostgreSQL, Redis, a worker, SMTP and Chromium.

A program is activated; the patient logs two sessions through their link on a phone; the
engine proposes a step up; the therapist approves it; the patient gets one e-mail.
"""

import time
from datetime import timedelta
from email.message import Message
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.followups import progression_service
from apps.followups.models import ProgressionProposal, ProposalStatus, SessionLog
from apps.followups.services import patient_today
from apps.notifications import services as outbox
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import Exercise, Program, ProgramItem
from tests import services as real
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.smtp,
              pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sink():
    server = real.SMTPSink().start()
    yield server
    server.stop()


def text_of(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def log_a_session(phone, program_path: str, *, day) -> None:
    phone.goto(program_path)
    phone.get_by_role("link", name="Log today's session").click()
    phone.wait_for_url("**/log/")
    item = phone.locator("fieldset.log-item")
    assert item.count() == 1
    assert "Seated knee raise" in item.locator("legend").inner_text()
    assert item.locator(".dose").inner_text() == "2 sets of 10-15 repetitions on each side"
    phone.get_by_label("Day of the session").fill(day.isoformat())
    phone.get_by_label("Sets done").fill("2")
    phone.get_by_label("Repetitions on the last set").fill("17")
    phone.get_by_label("Pain during (0 = none, 10 = worst)").fill("1")
    phone.get_by_label("About right").check()
    phone.get_by_role("button", name="Save my session").click()
    phone.wait_for_url("**/thanks/")
    assert phone.get_by_role("heading", name="your session is saved").is_visible()


def test_logged_sessions_lead_to_an_approved_step_up_and_one_email(page, therapist, sink):
    patient = ReferralFactory(cause="prolonged_sitting", patient__email="ada@example.org",
                              patient__first_name="Ada", patient__email_consent=True).patient
    exercise = Exercise.objects.get(slug="seated-knee-raise")
    program = Program(patient=patient, therapist=therapist, start_date=timezone.localdate() - timedelta(days=7))
    prescriptions.save_program(program=program, by=therapist, items=[
        ProgramItem(exercise=exercise, sets=2, dose_low=10, dose_high=15)])
    program = prescriptions.activate_program(program=program, by=therapist)
    link = prescriptions.create_patient_link(patient=patient, by=therapist)
    program_path = urlsplit(prescriptions.patient_link_url(link)).path

    page.set_viewport_size({"width": 390, "height": 844})  # the patient, on a phone
    today = patient_today(program)
    log_a_session(page, program_path, day=today)
    assert page.locator("#adherence").inner_text().endswith("1 of 3 sessions done.")
    log_a_session(page, program_path, day=today - timedelta(days=1))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert sorted(SessionLog.objects.values_list("session_date", flat=True)) == [today - timedelta(days=1), today]

    proposal = ProgressionProposal.objects.get(program=program)
    assert (proposal.action, proposal.status) == ("progress", ProposalStatus.PENDING)
    assert proposal.proposed == {"sets": 2, "dose_low": 12, "dose_high": 17, "load": None}

    with real.celery_worker(EMAIL_URL=sink.email_url):
        progression_service.apply_proposal(proposal=proposal, by=therapist)  # commits; the send is queued after
        real.wait_for(lambda: sink.messages, message="the progression e-mail at the SMTP server")
        real.wait_for(lambda: OutboxEmail.objects.filter(status=OutboxStatus.SENT).exists(),
                      message="the outbox row marked sent")

        with pytest.raises(ValidationError):
            progression_service.apply_proposal(proposal=proposal, by=therapist)
        assert outbox.dispatch_due() == 0
        time.sleep(2)  # room for a second message, were one on its way

    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert (message["To"], message["Subject"]) == ("ada@example.org", "Your exercises have been updated")
    body = text_of(message)
    assert "2 sets of 12-17 repetitions on each side" in body
    assert "2 sets of 10-15 repetitions on each side -> 2 sets of 12-17 repetitions on each side" in body
    item = program.items.get()
    assert (item.dose_low, item.dose_high) == (12, 17)
    assert program.versions.count() == 2

    page.goto(program_path)  # the patient's link now shows the new dose
    assert page.locator(".program-item .dose").inner_text() == "2 sets of 12-17 repetitions on each side"
