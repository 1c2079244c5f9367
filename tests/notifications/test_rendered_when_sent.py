"""Rows that store template names and a JSON context are rendered when sent, as build_email would have."""

import json

import pytest

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def reminder(patient, *, render_when_sent: bool, key: str = "test-email:1", **overrides) -> OutboxEmail:
    fields = {
        "key": key, "kind": "test-email", "to_email": "someone@example.org",
        "subject": "Your appointment on Mon 24 Nov at 10:00",
        "text_template": "emails/appointment_reminder.txt", "html_template": "emails/appointment_reminder.html",
        "context": {"first_name": "Ada", "when": "Monday 24 November 2026 at 10:00", "time_zone": "Europe/London"},
        "patient": patient, "render_when_sent": render_when_sent, **overrides,
    }
    return services.build_email(**fields)


@pytest.mark.parametrize("for_patient", [True, False], ids=["patient", "staff"])
def test_a_row_rendered_when_sent_gives_the_message_a_row_rendered_when_queued_gives(for_patient, clinic_policy):
    clinic_policy(clinic_name="Hip Clinic North", address="1 Mill Lane")
    patient = PatientFactory(email="ada@example.org", email_consent=True) if for_patient else None
    now = reminder(patient, render_when_sent=False)
    later = reminder(patient, render_when_sent=True)
    services.queue_many([later])
    later = OutboxEmail.objects.get()  # as a worker reads it: the context back from JSON

    assert (later.body_text, later.body_html, later.headers) == ("", "", {})
    assert later.context == json.loads(json.dumps(later.context))
    assert services.message_bodies(later) == (now.body_text, now.body_html, now.headers)
    assert "Hip Clinic North" in now.body_text and "Monday 24 November 2026 at 10:00" in now.body_text
    assert ("/email/unsubscribe/" in now.body_text) is for_patient
    assert ("List-Unsubscribe" in now.headers) is for_patient


def test_a_row_with_its_bodies_is_sent_as_stored():
    row = reminder(PatientFactory(email_consent=True), render_when_sent=False)
    row.body_text, row.body_html = "stored text", "<p>stored html</p>"

    assert services.message_bodies(row) == ("stored text", "<p>stored html</p>", row.headers)


@pytest.mark.smtp
def test_the_rendered_message_is_what_the_smtp_server_receives(smtp_server):
    patient = PatientFactory(email="ada@example.org", email_consent=True)
    services.queue_many([reminder(patient, render_when_sent=True, to_email=patient.email)])
    row = OutboxEmail.objects.get()

    assert services.deliver(outbox_id=row.pk) == OutboxStatus.SENT

    [message] = smtp_server.messages
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    text = text.get_payload(decode=True).decode()
    assert "Monday 24 November 2026 at 10:00" in text
    assert f"/email/unsubscribe/{services.unsubscribe_token(patient)}/" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert any(part.get_content_type() == "text/html" for part in message.walk())


def test_a_template_that_fails_to_render_parks_the_row(mailoutbox):
    services.queue_many([reminder(PatientFactory(email_consent=True), render_when_sent=True,
                                  text_template="emails/no_such_template.txt")])
    row = OutboxEmail.objects.get()

    assert services.deliver(outbox_id=row.pk) == OutboxStatus.FAILED
    row.refresh_from_db()
    assert row.last_error == "TemplateDoesNotExist"
    assert mailoutbox == []


def test_the_admin_shows_the_body_of_a_row_rendered_when_sent(client, manager):
    services.queue_many([reminder(PatientFactory(email_consent=True), render_when_sent=True)])
    row = OutboxEmail.objects.get()

    client.force_login(manager)
    page = client.get(f"/admin/notifications/outboxemail/{row.pk}/change/").content.decode()

    assert "Monday 24 November 2026 at 10:00" in page
    assert "/email/unsubscribe/" in page
