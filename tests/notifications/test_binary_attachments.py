"""A binary attachment (a PDF) survives the outbox's JSON column and leaves as the same bytes."""

import base64
import json

import pytest

from apps.notifications import services
from apps.notifications.models import OutboxEmail
from tests.factories import PatientFactory
from tests.notifications.helpers import queue_patient_email

pytestmark = pytest.mark.django_db

# Not valid UTF-8 on purpose: a PDF's second line carries bytes above 127 to mark it binary.
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\n\x00\xff trailer\n%%EOF\n"
ICS = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"


def queue_with_attachments(patient):
    return queue_patient_email(patient, attachments=[
        {"filename": "superbill.pdf", "content_type": "application/pdf", "content": PDF},
        {"filename": "appointment.ics", "content_type": "text/calendar; method=REQUEST", "content": ICS},
    ])


def test_bytes_are_stored_as_base64_text_and_text_as_it_is():
    row = queue_with_attachments(PatientFactory())

    stored = OutboxEmail.objects.get(pk=row.pk).attachments
    json.dumps(stored)  # what the JSON column holds
    assert stored[0] == {"filename": "superbill.pdf", "content_type": "application/pdf",
                         "content": base64.b64encode(PDF).decode(), "encoding": "base64"}
    assert stored[1]["content"] == ICS and "encoding" not in stored[1]


def test_build_message_turns_a_stored_pdf_into_an_application_pdf_part_with_the_same_bytes():
    row = OutboxEmail.objects.get(pk=queue_with_attachments(PatientFactory()).pk)

    message = services.build_message(row).message()

    parts = {part.get_content_type(): part for part in message.walk() if part.get_filename()}
    assert parts["application/pdf"].get_filename() == "superbill.pdf"
    assert parts["application/pdf"]["Content-Transfer-Encoding"] == "base64"
    assert parts["application/pdf"].get_payload(decode=True) == PDF
    assert parts["text/calendar"].get_payload(decode=True).decode() == ICS


@pytest.mark.smtp
def test_a_pdf_reaches_the_smtp_server_intact(smtp_server):
    row = queue_with_attachments(PatientFactory(email="ada@example.org"))

    assert services.deliver(outbox_id=row.pk) == "sent"

    [received] = smtp_server.messages
    [pdf] = [part for part in received.walk() if part.get_content_type() == "application/pdf"]
    assert pdf.get_payload(decode=True) == PDF
