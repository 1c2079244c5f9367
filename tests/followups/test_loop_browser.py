"""The whole follow-up loop with the real parts: PostgreSQL, Redis, a worker, SMTP and Chromium.

A program is activated; the patient logs two sessions through their link on a phone; the
engine proposes a step up; the therapist approves it; the patient gets one e-mail: at once
in the daytime, at 08:00 their time when it is approved at night (quiet hours).

The worker keeps the machine's real clock, so the test cannot move its time. It chooses
where the patient lives instead (``zone_where_it_is``): a fixed-offset zone in which it is
now about 14:00, or about 23:30, so that each case means the same whatever hour CI runs it.
"""

from datetime import time as clock
from datetime import timedelta
from email.message import Message
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.followups import progression_service
from apps.followups.models import ProgressionProposal, ProposalStatus, SessionLog
from apps.followups.services import patient_today
from apps.notifications import services as outbox
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.quiet_hours import is_quiet
from apps.notifications.tasks import send_outbox_batch
from apps.patients.services import set_email_consent
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import Exercise, Program, ProgramItem
from tests import realparts as real
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.worker, pytest.mark.smtp,
              pytest.mark.django_db(transaction=True)]


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


@pytest.mark.parametrize("local_time", [clock(14, 0), clock(23, 30)], ids=["at-14h00-local", "at-23h30-local"])
def test_logged_sessions_lead_to_an_approved_step_up_and_one_email(page, therapist, smtp_relay, settings, local_time):
    zone = real.zone_where_it_is(local_time)
    night = local_time.hour >= 21
    assert is_quiet(timezone.now().astimezone(zone).time()) == night, zone
    patient = ReferralFactory(cause="prolonged_sitting", patient__email="ada@example.org", patient__time_zone=zone.key,
                              patient__first_name="Ada", patient__email_consent=False).patient
    exercise = Exercise.objects.get(slug="seated-knee-raise")
    program = Program(patient=patient, therapist=therapist, start_date=timezone.localdate() - timedelta(days=7))
    prescriptions.save_program(program=program, by=therapist, items=[
        ProgramItem(exercise=exercise, sets=2, dose_low=10, dose_high=15)])
    program = prescriptions.activate_program(program=program, by=therapist)
    # The program was handed over in clinic; the patient agrees to e-mail afterwards, so the one
    # e-mail of this journey is the progression notice.
    set_email_consent(patient=patient, consent=True)
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

    with real.celery_worker(EMAIL_URL=smtp_relay.email_url) as worker:
        approved_at = timezone.now()
        progression_service.apply_proposal(proposal=proposal, by=therapist)  # commits; the send is queued after
        email = OutboxEmail.objects.get(kind="progression")
        if night:
            # Held until the next 08:00 where the patient lives (8 to 9 hours from 23:00-00:00).
            assert email.send_after.astimezone(zone).time() == clock(8, 0)
            assert timedelta(hours=7) < email.send_after - approved_at <= timedelta(hours=9)
            assert outbox.dispatch_due() == 0  # the sweep finds nothing due
            send_outbox_batch.delay([email.pk])  # and a send task that reaches the worker now sends nothing
        else:
            assert email.send_after <= timezone.now()
            real.wait_for(lambda: smtp_relay.messages, message="the progression e-mail at the SMTP server")
            real.wait_for(lambda: OutboxEmail.objects.filter(status=OutboxStatus.SENT).exists(),
                          message="the outbox row marked sent")

        with pytest.raises(ValidationError):
            progression_service.apply_proposal(proposal=proposal, by=therapist)
        assert outbox.dispatch_due() == 0
        worker.drain()  # everything queued so far has run: a second message would be at the server by now

    email.refresh_from_db()
    if night:
        assert smtp_relay.messages == []
        assert (email.status, email.attempts) == (OutboxStatus.PENDING, 0)
        # The morning: the sweep's delivery, in this process with its clock moved to 08:00
        # where the patient lives, to the same SMTP server.
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_relay.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        with time_machine.travel(email.send_after - timedelta(minutes=1), tick=False) as traveller:
            assert outbox.deliver(outbox_id=email.pk) == "not-claimed"  # 07:59: not yet
            traveller.move_to(email.send_after)
            assert outbox.deliver(outbox_id=email.pk) == OutboxStatus.SENT
    assert OutboxEmail.objects.get().status == OutboxStatus.SENT

    assert len(smtp_relay.messages) == 1
    message = smtp_relay.messages[0]
    assert (message["To"], message["Subject"]) == ("ada@example.org", "Your exercises have been updated")
    body = text_of(message)
    assert "2 sets of 12-17 repetitions on each side" in body
    assert "2 sets of 10-15 repetitions on each side -> 2 sets of 12-17 repetitions on each side" in body
    item = program.items.get()
    assert (item.dose_low, item.dose_high) == (12, 17)
    assert program.versions.count() == 2

    page.goto(program_path)  # the patient's link now shows the new dose
    assert page.locator(".program-item .dose").inner_text() == "2 sets of 12-17 repetitions on each side"
