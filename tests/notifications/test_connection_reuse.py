"""Sending reuses SMTP connections: a batch of e-mails goes over one connection."""

import pytest
from django.db import transaction

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from tests.factories import PatientFactory

pytestmark = [pytest.mark.smtp, pytest.mark.django_db]


def queue(n: int) -> list[int]:
    ids = []
    for number in range(n):
        patient = PatientFactory(email=f"reuse{number}@example.org")
        with transaction.atomic():
            row = services.queue_email(key=f"test:reuse:{number}", kind="test", to_email=patient.email,
                                       subject="Hello", text_template="emails/progression.txt",
                                       html_template="emails/progression.html",
                                       context={"patient": patient, "changes": [], "items": [],
                                                "program_url": "http://x"}, patient=patient)
        ids.append(row.pk)
    return ids


def test_a_batch_of_twenty_emails_goes_over_one_smtp_connection(smtp_server):
    ids = queue(20)

    outcomes = services.deliver_batch(outbox_ids=ids)

    assert outcomes == {OutboxStatus.SENT: 20}
    assert len(smtp_server.messages) == 20
    assert len(smtp_server.connections) == 1


def test_a_refused_message_in_a_batch_reconnects_for_the_rest(smtp_server):
    ids = queue(5)
    smtp_server.refuse_next(1)

    outcomes = services.deliver_batch(outbox_ids=ids)

    assert outcomes == {OutboxStatus.PENDING: 1, OutboxStatus.SENT: 4}  # the first is retried later
    assert len(smtp_server.messages) == 4
    assert len(smtp_server.connections) == 2  # the refused one's connection was dropped; one more for the rest
    assert OutboxEmail.objects.get(pk=ids[0]).status == OutboxStatus.PENDING
