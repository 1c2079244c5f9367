"""Webhooks: register endpoints, record events as deliveries, send them signed, retry, disable.

The design is the e-mail outbox's (apps/notifications/services.py): a delivery is a row
written in the same transaction as the change that caused it (the lower apps send their
signals inside it), a send task is queued after the commit, and beat's sweep
(``dispatch_due``) queues whatever is due and not held: never queued (broker down),
retries that came due, rows whose worker died (lease ``locked_until`` expired).
``deliver`` claims a row with one conditional UPDATE, so one delivery is never being sent
by two workers at once, and a delivered row is never sent again (except on a re-send).

At least once: a worker killed after the receiver answered but before the row was marked
delivered sends it again when the lease lapses, with the same ``webhook-id``.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from http.client import HTTPException

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from standardwebhooks.webhooks import Webhook

from apps.accounts.models import User
from apps.notifications.services import queue_email
from apps.webhooks import http
from apps.webhooks.addresses import AddressRefused, checked_addresses
from apps.webhooks.events import Event
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger("hipclinic.webhooks")

PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# Retries: 30 s, 1, 2, 4, 8 ... min after each failure; the last attempt is made a day after the event, and
# if that one fails too the endpoint is disabled.
RETRY_BASE = timedelta(seconds=30)
RETRY_FOR = timedelta(hours=24)
USER_AGENT = "hipclinic-webhooks/1"
KIND_ENDPOINT_DISABLED = "webhook-endpoint-disabled"


# ---------------------------------------------------------------------------- endpoints


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def endpoint_problems(*, url: str, events: Iterable[str]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    try:
        checked_addresses(url, allow_http=settings.WEBHOOKS_ALLOW_HTTP,
                          allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES)
    except AddressRefused as error:
        problems["url"] = [str(error)]
    events = list(events)
    unknown = [event for event in events if event not in Event.values]
    if unknown:
        problems["events"] = [f"Unknown event: {', '.join(map(str, unknown))}. Choose from {', '.join(Event.values)}."]
    elif not events:
        problems["events"] = ["Choose at least one event."]
    return problems


def save_endpoint(*, endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """Register or change an endpoint; checks the URL (scheme and every address) and the events.

    A new endpoint gets its secret here. Turning a disabled endpoint back on clears why it was disabled.
    """
    problems = endpoint_problems(url=endpoint.url, events=endpoint.events)
    if problems:
        raise ValidationError(problems)
    endpoint.events = sorted(set(endpoint.events), key=Event.values.index)
    if not endpoint.secret:
        endpoint.secret = new_secret()
    if endpoint.pk is None:
        endpoint.created_by = by
    if endpoint.is_active:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    endpoint.save()
    log.info("webhook endpoint saved id=%s by=%s active=%s", endpoint.pk, by.pk, endpoint.is_active)
    return endpoint


def rotate_secret(*, endpoint: WebhookEndpoint, by: User) -> WebhookEndpoint:
    """A new secret; deliveries sent from now on are signed with it."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    log.info("webhook endpoint secret rotated id=%s by=%s", endpoint.pk, by.pk)
    return endpoint


# ---------------------------------------------------------------------------- recording events


def record_event(*, event: str, data: dict, now: datetime | None = None) -> list[WebhookDelivery]:
    """One delivery per active endpoint that hears ``event``, in the caller's transaction; sent after the commit."""
    if event not in Event.values:
        raise ValueError(f"unknown webhook event {event!r}")
    now = now or timezone.now()
    endpoints = [endpoint for endpoint in WebhookEndpoint.objects.filter(is_active=True) if endpoint.hears(event)]
    if not endpoints:
        return []
    body = json.dumps({"type": event, "timestamp": now.isoformat(), "data": data}, separators=(",", ":"),
                      sort_keys=True)
    lease = now + lease_length()  # their tasks are queued at commit: the sweep leaves them alone meanwhile
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(endpoint=endpoint, webhook_id=f"msg_{uuid.uuid4().hex}", event=event, body=body,
                        send_after=now, give_up_at=now + RETRY_FOR, locked_until=lease)
        for endpoint in endpoints
    ])
    ids = [row.pk for row in rows] if all(row.pk for row in rows) else list(
        WebhookDelivery.objects.filter(webhook_id__in=[row.webhook_id for row in rows]).values_list("pk", flat=True))
    log.info("webhook event recorded event=%s deliveries=%d", event, len(ids))
    transaction.on_commit(partial(enqueue, ids))
    return rows


def enqueue(delivery_ids: Iterable[int]) -> int:
    """Ask the workers to send these deliveries; on a broker failure leave them to the sweep."""
    from apps.webhooks.tasks import send_webhook

    ids = list(delivery_ids)
    queued = 0
    try:
        for delivery_id in ids:
            send_webhook.apply_async(args=[delivery_id], retry=True, retry_policy=PUBLISH_RETRY_POLICY)
            queued += 1
    except (BrokerError, OSError) as error:
        log.warning("webhook enqueue failed count=%d error=%s", len(ids) - queued, type(error).__name__)
        WebhookDelivery.objects.filter(pk__in=ids[queued:], status=DeliveryStatus.PENDING).update(locked_until=None)
    return queued


# ---------------------------------------------------------------------------- sending


def lease_length() -> timedelta:
    return timedelta(seconds=settings.WEBHOOKS_LEASE_SECONDS)


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, then twice as long after each (no jitter: one delivery per row)."""
    return RETRY_BASE * 2 ** min(attempts - 1, 20)


def signed_headers(delivery: WebhookDelivery, *, secret: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: id, timestamp (this attempt's, in seconds) and the v1 signature."""
    at = datetime.fromtimestamp(math.floor(at.timestamp()), tz=UTC)
    signature = Webhook(secret).sign(msg_id=delivery.webhook_id, timestamp=at, data=delivery.body)
    return {"webhook-id": delivery.webhook_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature, "Content-Type": "application/json", "User-Agent": USER_AGENT}


def deliver(*, delivery_id: int) -> str:
    """Send one delivery if it is due and nobody else holds it; returns its status afterwards."""
    now = timezone.now()
    lease = now + lease_length()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, send_after__lte=now)
        .filter(Q(status=DeliveryStatus.PENDING) | Q(status=DeliveryStatus.SENDING, locked_until__lt=now))
        .update(status=DeliveryStatus.SENDING, locked_until=lease)
    )
    if not claimed:
        return "not-claimed"  # delivered, failed, not yet due, or another worker holds it
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    ours = WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING, locked_until=lease)
    endpoint = delivery.endpoint
    attempts = delivery.attempts + 1
    if not endpoint.is_active:
        ours.update(status=DeliveryStatus.FAILED, locked_until=None, last_error="endpoint disabled")
        log.info("webhook not sent id=%s endpoint=%s reason=endpoint-disabled", delivery.pk, endpoint.pk)
        return DeliveryStatus.FAILED

    status_code = None
    try:
        addresses = checked_addresses(endpoint.url, allow_http=settings.WEBHOOKS_ALLOW_HTTP,
                                      allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES)
        status_code = http.post(endpoint.url, address=addresses[0], body=delivery.body.encode(),
                                headers=signed_headers(delivery, secret=endpoint.secret, at=timezone.now()),
                                timeout=settings.WEBHOOKS_TIMEOUT_SECONDS)
        error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
    except AddressRefused as refused:
        error = f"refused: {refused}"[:200]
    except (OSError, HTTPException) as failure:  # timeouts, refused connections, TLS errors are OSErrors
        error = type(failure).__name__
    finished = timezone.now()
    if error is None:
        ours.update(status=DeliveryStatus.DELIVERED, attempts=attempts, locked_until=None, last_error="",
                    last_status_code=status_code, last_attempt_at=finished, delivered_at=finished)
        log.info("webhook delivered id=%s endpoint=%s event=%s attempts=%d", delivery.pk, endpoint.pk,
                 delivery.event, attempts)
        return DeliveryStatus.DELIVERED
    return _record_failure(delivery, ours, attempts=attempts, error=error, status_code=status_code, now=finished)


def _record_failure(delivery: WebhookDelivery, ours, *, attempts: int, error: str, status_code: int | None,
                    now: datetime) -> str:
    if now >= delivery.give_up_at:
        with transaction.atomic():
            changed = ours.update(status=DeliveryStatus.FAILED, attempts=attempts, locked_until=None,
                                  last_error=error, last_status_code=status_code, last_attempt_at=now)
            if changed:
                disable_endpoint(endpoint=delivery.endpoint, now=now,
                                 reason=f"deliveries failed for {RETRY_FOR.total_seconds() / 3600:.0f} hours "
                                        f"(last: {error})"[:200])
        log.warning("webhook failed id=%s endpoint=%s attempts=%d error=%s", delivery.pk, delivery.endpoint_id,
                    attempts, error)
        return DeliveryStatus.FAILED
    # No Celery countdown: the due time lives in the row and the sweep queues it when due.
    send_after = min(now + retry_delay(attempts), delivery.give_up_at)
    ours.update(status=DeliveryStatus.PENDING, attempts=attempts, locked_until=None, last_error=error,
                last_status_code=status_code, last_attempt_at=now, send_after=send_after)
    log.info("webhook retry id=%s endpoint=%s attempts=%d error=%s", delivery.pk, delivery.endpoint_id, attempts,
             error)
    return DeliveryStatus.PENDING


def disable_endpoint(*, endpoint: WebhookEndpoint, reason: str, now: datetime | None = None) -> bool:
    """Turn an endpoint off (once) and e-mail the clinic's managers; returns whether it was on."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
        if not changed:
            return False
        link = settings.SITE_URL + reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])
        for manager in _managers():
            queue_email(
                key=f"{KIND_ENDPOINT_DISABLED}:{endpoint.pk}:{now.isoformat()}:{manager.pk}",
                kind=KIND_ENDPOINT_DISABLED, to_email=manager.email,
                subject="A webhook endpoint was disabled",
                text_template="emails/webhook_endpoint_disabled.txt",
                html_template="emails/webhook_endpoint_disabled.html",
                context={"first_name": manager.first_name, "endpoint": endpoint, "reason": reason, "link": link},
            )
    log.warning("webhook endpoint disabled id=%s", endpoint.pk)
    return True


def _managers():
    from django.contrib.auth import get_user_model

    from apps.accounts.roles import GROUP_NAMES, Role

    return (get_user_model().objects.filter(is_active=True, groups__name=GROUP_NAMES[Role.CLINIC_MANAGER])
            .exclude(email="").order_by("pk").distinct())


# ---------------------------------------------------------------------------- sweep and re-send


def due_rows(now: datetime):
    return WebhookDelivery.objects.filter(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING], send_after__lte=now
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))


def dispatch_due(*, now: datetime | None = None, limit: int = 5_000) -> int:
    """Queue send tasks for due deliveries nobody is handling; returns how many."""
    now = now or timezone.now()
    ids = list(due_rows(now).order_by("send_after").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    due_rows(now).filter(pk__in=ids, status=DeliveryStatus.PENDING).update(locked_until=now + lease_length())
    transaction.on_commit(partial(enqueue, ids))
    log.info("webhook sweep queued=%d", len(ids))
    return len(ids)


def resend(*, delivery_ids: Iterable[int], by: User) -> int:
    """Send finished deliveries again: the same ``webhook-id`` and body, a fresh day of retries, due now.

    A re-send is a new attempt of the same delivery (the receiver that already has it can
    tell by its id). A delivery of a disabled endpoint is re-sent only once the endpoint is on again.
    """
    now = timezone.now()
    finished = WebhookDelivery.objects.filter(
        pk__in=list(delivery_ids), status__in=[DeliveryStatus.FAILED, DeliveryStatus.DELIVERED],
        endpoint__is_active=True)
    ids = list(finished.values_list("pk", flat=True))
    count = WebhookDelivery.objects.filter(
        pk__in=ids, status__in=[DeliveryStatus.FAILED, DeliveryStatus.DELIVERED]
    ).update(status=DeliveryStatus.PENDING, attempts=0, send_after=now, give_up_at=now + RETRY_FOR,
             locked_until=now + lease_length(), last_error="", delivered_at=None)
    if ids:
        transaction.on_commit(partial(enqueue, ids))
    log.info("webhook resend count=%d by=%s", count, by.pk)
    return count
