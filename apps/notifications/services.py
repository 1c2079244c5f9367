"""The e-mail outbox: queue in the caller's transaction, send once, retry, park, re-send.

A message is first a row (``OutboxEmail``) written in the same transaction as the change
that caused it, under a unique key. After the commit a Celery task is asked to send it;
if the broker is down the row simply waits for the sweep (``dispatch_due``, run by beat).
``deliver`` claims the row with one conditional UPDATE, so two workers (or one task run
twice) never both send it, and a sent or skipped row is never touched again.

``locked_until`` has two meanings, both "leave this row alone until then":
on a *sending* row it is the worker's lease (a worker killed mid-send loses it when it
expires); on a *pending* row it records that a send task was queued, so the sweep does
not queue it again while that task is still waiting in the broker.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from smtplib import SMTPException, SMTPRecipientsRefused, SMTPResponseException

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, InterfaceError, OperationalError, connections, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from apps.notifications.models import OutboxEmail, OutboxStatus
from apps.notifications.quiet_hours import QuietHours, next_allowed
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient

log = logging.getLogger("hipclinic.outbox")

UNSUBSCRIBE_SALT = "hipclinic.notifications.unsubscribe"
# Publishing to a broker that does not answer: one quick retry, then leave the row to
# the sweep, so that a request is never held for long by a broker outage.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
ENQUEUE_BATCH = 200
# Rows per send task: one SMTP connection serves the whole batch. What a batch costs
# beyond its rows (the task, one SELECT, SMTP connect, EHLO and QUIT) was about 3 % of
# its time at 50 in a profile, so larger batches would gain little; parallel SMTP
# connections come from the worker's processes (--concurrency), each sending one batch.
SEND_BATCH = 50


# ---------------------------------------------------------------------------- unsubscribe


def unsubscribe_token(patient: Patient) -> str:
    return _unsubscribe_token(patient.pk)


def _unsubscribe_token(patient_id: int) -> str:
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"patient": patient_id})


def patient_for_unsubscribe_token(token: str) -> Patient | None:
    """The patient a token names; raises ``signing.BadSignature`` for a tampered token."""
    value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)
    if not isinstance(value, dict) or not isinstance(value.get("patient"), int):
        raise signing.BadSignature("unexpected token content")
    return Patient.objects.filter(pk=value["patient"]).first()


def unsubscribe_url(patient: Patient) -> str:
    return _unsubscribe_url(patient.pk)


def _unsubscribe_url(patient_id: int) -> str:
    return settings.SITE_URL + reverse("notifications:unsubscribe", kwargs={"token": _unsubscribe_token(patient_id)})


def unsubscribe_headers(url: str) -> dict[str, str]:
    # RFC 2369 and RFC 8058: mail clients show an "Unsubscribe" button that POSTs here.
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


# ---------------------------------------------------------------------------- timing


def quiet_hours() -> QuietHours | None:
    """The clinic's quiet hours, or None when it sends at any hour."""
    policy = clinic_policy()
    return QuietHours(policy.quiet_hours_start, policy.quiet_hours_end) if policy.quiet_hours else None


def send_time(now: datetime, zone) -> datetime:
    """When a scheduled e-mail to someone in ``zone`` may go: ``now``, or the end of the quiet hours there."""
    return next_allowed(now, zone, quiet_hours())


# ---------------------------------------------------------------------------- queueing


def render_email(*, text_template: str, html_template: str, context: dict) -> tuple[str, str]:
    body_text = render_to_string(text_template, context)
    body_html = render_to_string(html_template, context) if html_template else ""
    return body_text, body_html


def build_email(
    *,
    key: str,
    kind: str,
    to_email: str,
    subject: str,
    text_template: str,
    html_template: str,
    context: dict,
    patient: Patient | None = None,
    attachments: Sequence[dict] = (),
    send_after: datetime | None = None,
    headers: dict | None = None,
    render_when_sent: bool = False,
) -> OutboxEmail | None:
    """An unsaved outbox row with its bodies rendered; None when the patient takes no e-mail.

    For patient mail the context gets ``unsubscribe_url`` and the message the one-click
    unsubscribe headers. ``attachments`` are dicts with ``filename``, ``content_type``
    and ``content``: text as it is, bytes (a PDF) stored in base64 (see ``stored_attachment``).
    With ``render_when_sent`` the row keeps the template names and ``context`` (which must
    then be JSON-able) instead of bodies, and ``message_bodies`` renders them at send time.
    """
    if patient is not None and not patient.can_receive_email:
        return None
    row = OutboxEmail(
        key=key, kind=kind, patient=patient, to_email=to_email, subject=subject,
        attachments=[stored_attachment(a) for a in attachments], headers=dict(headers or {}),
        send_after=send_after or timezone.now(),
    )
    if render_when_sent:
        row.text_template, row.html_template, row.context = text_template, html_template, context
        return row
    row.body_text, row.body_html, row.headers = _render(
        text_template=text_template, html_template=html_template, context=context, subject=subject,
        patient_id=None if patient is None else patient.pk, headers=row.headers,
    )
    return row


def _render(*, text_template: str, html_template: str, context: dict, subject: str, patient_id: int | None,
            headers: dict) -> tuple[str, str, dict]:
    """Bodies and headers of a message: the templates with the clinic footer, the subject and, for
    patient mail, the unsubscribe link (in the context and in the one-click headers)."""
    context = {"clinic": clinic_policy(), **context}  # the footer: name, address, phone, closing text
    headers = dict(headers)
    if patient_id is not None:
        context["unsubscribe_url"] = _unsubscribe_url(patient_id)
        headers.update(unsubscribe_headers(context["unsubscribe_url"]))
    context.setdefault("subject", subject)
    body_text, body_html = render_email(text_template=text_template, html_template=html_template, context=context)
    return body_text, body_html, headers


def message_bodies(row: OutboxEmail) -> tuple[str, str, dict]:
    """The row's text body, HTML body and headers: as stored, or rendered now from its templates and context."""
    if row.body_text or not row.text_template:
        return row.body_text, row.body_html, dict(row.headers)
    return _render(text_template=row.text_template, html_template=row.html_template, context=row.context,
                   subject=row.subject, patient_id=row.patient_id, headers=row.headers)


def stored_attachment(attachment: dict) -> dict:
    """An attachment as the JSON column can hold it: binary content as base64 text, marked so."""
    content = attachment["content"]
    if isinstance(content, bytes | bytearray | memoryview):
        return {"filename": attachment["filename"], "content_type": attachment["content_type"],
                "content": base64.b64encode(bytes(content)).decode("ascii"), "encoding": "base64"}
    return dict(attachment)


def attachment_content(attachment: dict) -> str | bytes:
    """The content to attach: bytes again for a base64-stored attachment, the text otherwise."""
    if attachment.get("encoding") == "base64":
        return base64.b64decode(attachment["content"])
    return attachment["content"]


def queue_email(
    *,
    key: str,
    kind: str,
    to_email: str,
    subject: str,
    text_template: str,
    html_template: str,
    context: dict,
    patient: Patient | None = None,
    attachments: Sequence[dict] = (),
    send_after: datetime | None = None,
    headers: dict | None = None,
) -> OutboxEmail | None:
    """Write one outbox row in the caller's transaction; None if the key exists or the patient takes no e-mail.

    The send task is queued only after the commit, and only if the row is due now; a
    later ``send_after`` is left to the sweep (never a Celery countdown).
    """
    if OutboxEmail.objects.filter(key=key).exists():
        return None
    row = build_email(
        key=key, kind=kind, to_email=to_email, subject=subject, text_template=text_template,
        html_template=html_template, context=context, patient=patient, attachments=attachments,
        send_after=send_after, headers=headers,
    )
    if row is None:
        return None
    now = timezone.now()
    due_now = row.send_after <= now
    if due_now:
        row.locked_until = now + lease_length()  # its task is queued at commit: the sweep leaves it alone
    try:
        # A savepoint, so that losing a race to a concurrent twin of this key rolls back
        # only this INSERT and never the caller's transaction.
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        if OutboxEmail.objects.filter(key=key).exists():
            return None
        raise
    log.info("outbox queued id=%s kind=%s", row.pk, row.kind)
    if due_now:
        transaction.on_commit(partial(enqueue, [row.pk]))
    return row


def queue_many(rows: Sequence[OutboxEmail]) -> int:
    """Insert rows built by ``build_email`` in one statement, ignoring keys that exist; the sweep sends them."""
    if not rows:
        return 0
    OutboxEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def enqueue(outbox_ids: Iterable[int]) -> int:
    """Ask the workers to send these rows; on a broker failure leave them to the sweep. Returns how many were queued."""
    from apps.notifications.tasks import send_outbox_batch

    ids = list(outbox_ids)
    queued = 0
    try:
        # One task per SEND_BATCH rows: the worker sends a batch over one SMTP connection.
        # Celery's producer pool keeps one broker connection for all the publishes; the
        # first failure ends the loop, so an outage costs one short retry, not one per row.
        for start in range(0, len(ids), SEND_BATCH):
            chunk = ids[start : start + SEND_BATCH]
            send_outbox_batch.apply_async(args=[chunk], retry=True, retry_policy=PUBLISH_RETRY_POLICY)
            queued += len(chunk)
    except (BrokerError, OSError) as error:
        # Nothing is lost: the rows are pending and the sweep queues them again.
        log.warning("outbox enqueue failed count=%d error=%s", len(ids) - queued, type(error).__name__)
        OutboxEmail.objects.filter(pk__in=ids[queued:], status=OutboxStatus.PENDING).update(locked_until=None)
    return queued


# ---------------------------------------------------------------------------- sending


def lease_length() -> timedelta:
    return timedelta(seconds=settings.EMAIL_LEASE_SECONDS)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff from EMAIL_RETRY_BASE_SECONDS, with up to a quarter of jitter."""
    seconds = settings.EMAIL_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=seconds * (1 + random.random() / 4))  # noqa: S311 - jitter, not secrecy


def message_id(key: str) -> str:
    # Derived from the key: a receiving server that sees the same message twice can tell.
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "hipclinic.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def build_message(row: OutboxEmail) -> EmailMultiAlternatives:
    body_text, body_html, headers = message_bodies(row)
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.to_email],
        headers={**headers, "Message-ID": message_id(row.key), "Auto-Submitted": "auto-generated"},
    )
    if body_html:
        message.attach_alternative(body_html, "text/html")
    for attachment in row.attachments:
        message.attach(attachment["filename"], attachment_content(attachment), attachment["content_type"])
    return message


def _is_permanent(error: Exception) -> bool:
    """A 5xx answer will not change on a retry: park the row at once."""
    if isinstance(error, SMTPResponseException):
        return 500 <= error.smtp_code < 600
    if isinstance(error, SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return False


def claimable(now: datetime) -> Q:
    """Rows a worker may take now: due, and pending or held by a lease that has run out."""
    return Q(send_after__lte=now) & (
        Q(status=OutboxStatus.PENDING) | Q(status=OutboxStatus.SENDING, locked_until__lt=now)
    )


def deliver_batch(*, outbox_ids: Iterable[int]) -> dict[str, int]:
    """Send several rows over one SMTP connection; returns how many ended in each status.

    The rows and their patients are read in one query; rows whose patient no longer takes
    e-mail are marked skipped in one UPDATE. Each remaining row is then claimed on its own
    just before it is sent, by a conditional UPDATE that also checks ``attempts`` is what
    was read (so the row sent is the row read), and marked sent right after the relay
    accepts it: a worker killed at any moment holds at most the one message in flight,
    and every message the relay accepted before is on record as sent.
    """
    ids = list(outbox_ids)
    outcomes: dict[str, int] = {}

    def count(outcome: str, number: int = 1) -> None:
        if number:
            outcomes[outcome] = outcomes.get(outcome, 0) + number

    open_statuses = [OutboxStatus.PENDING, OutboxStatus.SENDING]
    rows = OutboxEmail.objects.select_related("patient").filter(pk__in=ids, status__in=open_statuses).order_by("pk")
    now = timezone.now()
    sendable, refused = [], []
    for row in rows:
        (sendable if row.patient is None or row.patient.can_receive_email else refused).append(row)
    if refused:
        skipped = _skip_without_consent(refused, now)
        count(OutboxStatus.SKIPPED, len(skipped))
        sendable.extend(row for row in refused if row.pk not in skipped)  # changed meanwhile: row by row
        sendable.sort(key=lambda row: row.pk)
    count("not-claimed", len(ids) - len(sendable) - outcomes.get(OutboxStatus.SKIPPED, 0))

    connection = get_connection(fail_silently=False)
    try:
        if connections[OutboxEmail.objects.db].vendor == "postgresql":
            _send_recording_with_next_claim(sendable, connection=connection, count=count)
        else:
            for row in sendable:
                count(_deliver_loaded(row, connection=connection))
    finally:
        with contextlib.suppress(SMTPException, OSError):
            connection.close()
    return outcomes


# One round trip (and one commit) per e-mail: marks the message the relay just accepted as
# sent (fenced by its lease) and claims the next row (conditions on the row itself, which
# PostgreSQL re-checks on the locked row if another worker updated it meanwhile). The claim
# also asks that the patient still takes e-mail (Patient.can_receive_email), so consent
# withdrawn after the batch was read is seen: such a row is left unclaimed and ``deliver``
# then marks it skipped.
RECORD_AND_CLAIM_SQL = """
WITH sent AS (
    UPDATE {table} SET status = 'sent', sent_at = %(sent_at)s, locked_until = NULL, last_error = ''
    WHERE id = %(sent_id)s AND status = 'sending' AND locked_until = %(sent_lease)s
    RETURNING id
), claimed AS (
    UPDATE {table} SET status = 'sending', locked_until = %(lease)s
    WHERE id = %(claim_id)s AND attempts = %(attempts)s AND send_after <= %(now)s
      AND (status = 'pending' OR (status = 'sending' AND locked_until < %(now)s))
      AND (patient_id IS NULL OR EXISTS (
          SELECT 1 FROM {patients} WHERE {patients}.id = {table}.patient_id
            AND {patients}.email_consent AND {patients}.archived_at IS NULL AND {patients}.email <> ''))
    RETURNING id
)
SELECT (SELECT count(*) FROM sent), (SELECT count(*) FROM claimed)
"""


def _send_recording_with_next_claim(rows: Sequence[OutboxEmail], *, connection, count) -> None:
    """PostgreSQL: send ``rows`` in turn, each accepted message recorded by the statement claiming the next.

    A worker killed while the relay holds a message has that one row claimed and every
    message accepted before it recorded as sent, as with one UPDATE per step.
    """
    accepted: tuple[OutboxEmail, datetime] | None = None  # accepted by the relay, not yet recorded
    for row in rows:
        lease = _record_and_claim(accepted, claim=row)
        if accepted is not None:
            _log_sent(accepted[0])
            accepted = None
        if lease is None:
            count(deliver(outbox_id=row.pk, connection=connection))  # changed since it was read: row by row
            continue
        outcome = _send_claimed(row, lease=lease, connection=connection, record=False)
        if outcome == OutboxStatus.SENT:
            accepted = (row, lease)
        count(outcome)
    if accepted is not None:
        _record_and_claim(accepted, claim=None)
        _log_sent(accepted[0])


def _record_and_claim(accepted: tuple[OutboxEmail, datetime] | None, *, claim: OutboxEmail | None):
    """Record ``accepted`` as sent and claim ``claim``, in one statement; returns the lease written, or None.

    While a message is waiting to be recorded, a lost database connection (a restart) is
    retried as ``_record_sent`` does, for as long as that message's lease lasts.
    """
    database = connections[OutboxEmail.objects.db]
    sql = RECORD_AND_CLAIM_SQL.format(table=database.ops.quote_name(OutboxEmail._meta.db_table),
                                      patients=database.ops.quote_name(Patient._meta.db_table))
    pause = 0.25
    while True:
        now = timezone.now()
        lease = now + lease_length()
        sent_id, sent_lease = (accepted[0].pk, accepted[1]) if accepted else (None, None)
        claim_id, attempts = (claim.pk, claim.attempts) if claim else (None, None)
        params = {"sent_at": now, "sent_id": sent_id, "sent_lease": sent_lease, "lease": lease,
                  "claim_id": claim_id, "attempts": attempts, "now": now}
        try:
            with database.cursor() as cursor:
                cursor.execute(sql, params)
                _, claimed = cursor.fetchone()
            return lease if claimed else None
        except (OperationalError, InterfaceError) as error:
            if accepted is None or database.in_atomic_block or timezone.now() + timedelta(seconds=pause) >= accepted[1]:
                raise
            log.warning("outbox record-sent retry id=%s error=%s", accepted[0].pk, type(error).__name__)
            database.close()  # the next query opens a fresh connection
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _skip_without_consent(rows: Sequence[OutboxEmail], now: datetime) -> set[int]:
    """Mark rows whose patient takes no e-mail skipped, in one conditional UPDATE; returns the ids it changed."""
    ids = [row.pk for row in rows]
    with transaction.atomic():
        skipped = set(
            OutboxEmail.objects.filter(claimable(now), pk__in=ids).select_for_update().values_list("pk", flat=True)
        )
        OutboxEmail.objects.filter(pk__in=skipped).update(
            status=OutboxStatus.SKIPPED, locked_until=None, last_error="no consent"
        )
    for row in rows:
        if row.pk in skipped:
            log.info("outbox skipped id=%s kind=%s reason=no-consent", row.pk, row.kind)
    return skipped


def _deliver_loaded(row: OutboxEmail, *, connection) -> str:
    """Claim a row read by ``deliver_batch`` and send it; falls back to ``deliver`` if it changed since."""
    now = timezone.now()
    lease = now + lease_length()
    still_consents = Q(patient__isnull=True) | (
        Q(patient__email_consent=True, patient__archived_at__isnull=True) & ~Q(patient__email="")
    )  # as RECORD_AND_CLAIM_SQL: consent withdrawn since the batch was read leaves the row to ``deliver``
    claimed = (
        OutboxEmail.objects.filter(claimable(now), still_consents, pk=row.pk, attempts=row.attempts)
        .update(status=OutboxStatus.SENDING, locked_until=lease)
    )
    if not claimed:
        return deliver(outbox_id=row.pk, connection=connection)
    return _send_claimed(row, lease=lease, connection=connection)


def deliver(*, outbox_id: int, connection=None) -> str:
    """Send one outbox row if it is due and nobody else holds it; returns the row's status afterwards.

    With ``connection`` (from ``deliver_batch``) the SMTP connection is reused and left
    open; after a failure it is closed so that the next row reconnects.
    """
    now = timezone.now()
    lease = now + lease_length()
    claimed = (
        OutboxEmail.objects.filter(claimable(now), pk=outbox_id)
        .update(status=OutboxStatus.SENDING, locked_until=lease)
    )
    if not claimed:
        return "not-claimed"  # sent, skipped, failed, not yet due, or another worker holds it
    row = OutboxEmail.objects.select_related("patient").get(pk=outbox_id)
    if row.patient is not None and not row.patient.can_receive_email:
        _ours(outbox_id, lease).update(status=OutboxStatus.SKIPPED, locked_until=None, last_error="no consent")
        log.info("outbox skipped id=%s kind=%s reason=no-consent", row.pk, row.kind)
        return OutboxStatus.SKIPPED
    return _send_claimed(row, lease=lease, connection=connection)


def _ours(outbox_id: int, lease: datetime):
    """The row, only while the lease we wrote is still on it (a fencing token)."""
    return OutboxEmail.objects.filter(pk=outbox_id, status=OutboxStatus.SENDING, locked_until=lease)


def _send_claimed(row: OutboxEmail, *, lease: datetime, connection=None, record: bool = True) -> str:
    """Send a row we hold; a failure is recorded at once, a success too unless ``record`` is false (the caller does)."""
    shared = connection is not None
    connection = connection or get_connection(fail_silently=False)
    try:
        try:
            connection.open()  # no-op on an open shared connection
            if not connection.send_messages([build_message(row)]):
                raise SMTPException("message not accepted")
        except (SMTPException, OSError) as error:
            _drop(connection)
            return _record_failure(row, _ours(row.pk, lease), error)
        except Exception as error:  # bad data fails the same way every time: park it
            return _record_failure(row, _ours(row.pk, lease), error, permanent=True)
        # Recorded before anything else (even QUIT), to keep the window in which a
        # crash could lead to a second copy as short as it can be.
        if record:
            _record_sent(_ours(row.pk, lease), outbox_id=row.pk, lease=lease)
    finally:
        if not shared:
            _drop(connection)
    if record:
        _log_sent(row)
    return OutboxStatus.SENT


def _log_sent(row: OutboxEmail) -> None:
    log.info("outbox sent id=%s kind=%s attempts=%d", row.pk, row.kind, row.attempts + 1)


def _record_sent(ours, *, outbox_id: int, lease: datetime) -> None:
    """Mark our row sent; if the database went away meanwhile (a restart), reconnect and try again.

    The message has been accepted: losing this write would let the lease lapse and the
    sweep send the message a second time. So keep trying while the lease is ours; after
    it, the fenced UPDATE could change nothing anyway.
    """
    sent_at = timezone.now()
    database = connections[ours.db]
    pause = 0.25
    while True:
        try:
            ours.update(status=OutboxStatus.SENT, sent_at=sent_at, locked_until=None, last_error="")
            return
        except (OperationalError, InterfaceError) as error:
            if database.in_atomic_block or timezone.now() + timedelta(seconds=pause) >= lease:
                raise
            log.warning("outbox record-sent retry id=%s error=%s", outbox_id, type(error).__name__)
            database.close()  # the next query opens a fresh connection
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _drop(connection) -> None:
    with contextlib.suppress(SMTPException, OSError):  # a failed QUIT changes nothing
        connection.close()  # Django's backend forgets the socket, so the next open() reconnects


def _record_failure(row: OutboxEmail, ours, error: Exception, *, permanent: bool = False) -> str:
    attempts = row.attempts + 1
    error_name = type(error).__name__  # never the text: it can quote the address
    if permanent or attempts >= settings.EMAIL_MAX_ATTEMPTS or _is_permanent(error):
        ours.update(status=OutboxStatus.FAILED, attempts=attempts, locked_until=None, last_error=error_name)
        log.warning("outbox failed id=%s kind=%s attempts=%d error=%s", row.pk, row.kind, attempts, error_name)
        return OutboxStatus.FAILED
    # No Celery countdown: the due time lives in the row and the sweep picks it up.
    ours.update(
        status=OutboxStatus.PENDING, attempts=attempts, locked_until=None, last_error=error_name,
        send_after=timezone.now() + retry_delay(attempts),
    )
    log.info("outbox retry id=%s kind=%s attempts=%d error=%s", row.pk, row.kind, attempts, error_name)
    return OutboxStatus.PENDING


# ---------------------------------------------------------------------------- sweep and re-send


def due_rows(now: datetime):
    """Rows a worker should take now: due, and neither queued nor held within a lease."""
    return OutboxEmail.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING], send_after__lte=now
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))


def dispatch_due(*, now: datetime | None = None, limit: int = 10_000) -> int:
    """Queue send tasks for due rows nobody is handling (never queued, broker was down, worker died).

    Two queries whatever the number of rows; returns how many rows were queued.
    """
    now = now or timezone.now()
    ids = list(due_rows(now).order_by("send_after").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    # Mark pending rows as queued (re-checking the condition: a worker may have claimed
    # one meanwhile). A sending row keeps its expired lease, which is what lets the
    # task take it over.
    due_rows(now).filter(pk__in=ids, status=OutboxStatus.PENDING).update(locked_until=now + lease_length())
    for start in range(0, len(ids), ENQUEUE_BATCH):
        transaction.on_commit(partial(enqueue, ids[start : start + ENQUEUE_BATCH]))
    log.info("outbox sweep queued=%d", len(ids))
    return len(ids)


def resend(*, outbox_ids: Iterable[int]) -> int:
    """Give failed rows a fresh set of attempts, due now; returns how many were re-queued."""
    now = timezone.now()
    ids = list(
        OutboxEmail.objects.filter(pk__in=list(outbox_ids), status=OutboxStatus.FAILED).values_list("pk", flat=True)
    )
    count = OutboxEmail.objects.filter(pk__in=ids, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, attempts=0, send_after=now, locked_until=now + lease_length(), last_error=""
    )
    if ids:
        transaction.on_commit(partial(enqueue, ids))
    log.info("outbox resend count=%d", count)
    return count
