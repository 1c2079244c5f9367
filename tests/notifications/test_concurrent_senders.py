"""Two senders given the same outbox rows at the same instant: each e-mail goes out once.

Two threads, each with its own database connection and SMTP connection, run
``deliver_batch`` over the same ids, released together by a barrier, round after round.
On PostgreSQL (the production database) the claims really race; a patient who withdrew
consent is skipped once and sent nothing.
"""

import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.patients.models import Patient
from tests.notifications.helpers import bulk_appointments

pytestmark = [pytest.mark.smtp]

SENDERS = 2
ROUNDS = 5
PER_ROUND = 60


def outbox_rows(patients: list[Patient], round_number: int) -> list[int]:
    rows = [
        OutboxEmail(key=f"race:{round_number}:{patient.pk}", kind="race", patient=patient, to_email=patient.email,
                    subject="Reminder", body_text="Hello", send_after=timezone.now())
        for patient in patients
    ]
    OutboxEmail.objects.bulk_create(rows)
    return [row.pk for row in rows]


@pytest.mark.postgres
def test_two_senders_over_the_same_rows_send_each_email_exactly_once(transactional_db, smtp_server):
    if connection.vendor != "postgresql":
        pytest.skip("the race is between two PostgreSQL connections; SQLite serialises every write")
    patients = [appointment.patient for appointment in bulk_appointments(PER_ROUND, first_start=timezone.now())]
    withdrawn = patients[PER_ROUND // 2]
    Patient.objects.filter(pk=withdrawn.pk).update(email_consent=False)
    barrier = threading.Barrier(SENDERS)
    outcomes: list[Counter] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    rounds = [outbox_rows(patients, number) for number in range(ROUNDS)]

    def sender():
        try:
            for ids in rounds:
                barrier.wait(timeout=60)
                done = services.deliver_batch(outbox_ids=ids)
                with lock:
                    outcomes.append(Counter(done))
        except BaseException as error:  # reported by the main thread
            failures.append(error)
            barrier.abort()
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures

    message_ids = Counter(message["Message-ID"] for message in smtp_server.messages)
    expected = {services.message_id(f"race:{number}:{patient.pk}")
                for number in range(ROUNDS) for patient in patients if patient.pk != withdrawn.pk}
    assert set(message_ids) == expected
    assert max(message_ids.values()) == 1
    total = sum(outcomes, Counter())
    assert total[OutboxStatus.SENT] == len(expected)
    assert total[OutboxStatus.SKIPPED] == ROUNDS  # the withdrawn patient's row, once a round
    statuses = Counter(OutboxEmail.objects.values_list("status", flat=True))
    assert statuses == {OutboxStatus.SENT: len(expected), OutboxStatus.SKIPPED: ROUNDS}


def test_consent_withdrawn_after_the_batch_was_read_is_honoured(db, smtp_server):
    """A patient who unsubscribes while a batch is under way gets nothing from that batch: the
    consent read with the batch is checked again when each row is claimed."""
    patients = [appointment.patient for appointment in bulk_appointments(3, first_start=timezone.now())]
    ids = outbox_rows(patients, 0)
    rows = list(OutboxEmail.objects.select_related("patient").filter(pk__in=ids).order_by("pk"))  # read: all consent
    Patient.objects.filter(pk=patients[1].pk).update(email_consent=False)  # the unsubscribe link, meanwhile

    connection_ = services.get_connection(fail_silently=False)
    outcomes = Counter()
    try:
        if connection.vendor == "postgresql":
            services._send_recording_with_next_claim(rows, connection=connection_,
                                                     count=lambda outcome, number=1: outcomes.update({outcome: number}))
        else:
            for row in rows:
                outcomes[services._deliver_loaded(row, connection=connection_)] += 1
    finally:
        connection_.close()

    sent_to = {message["To"] for message in smtp_server.messages}
    assert sent_to == {patients[0].email, patients[2].email}
    assert outcomes == {OutboxStatus.SENT: 2, OutboxStatus.SKIPPED: 1}
    assert OutboxEmail.objects.get(pk=ids[1]).status == OutboxStatus.SKIPPED
