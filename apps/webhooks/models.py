from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.webhooks.events import Event


class WebhookEndpoint(models.Model):
    """A URL that hears about the events it chose, signed with its own secret.

    The secret signs every delivery (HMAC-SHA256), so it is kept as it is, not hashed; only
    clinic managers see it (the endpoint's admin page), so they can give it to the integrator.
    """

    url = models.URLField(max_length=500, verbose_name="URL",
                          help_text="HTTPS only; never a loopback, private or link-local address.")
    description = models.CharField(max_length=200, blank=True, help_text="Who receives this, for the log.")
    events = models.JSONField(default=list, help_text="The event types this endpoint hears.")
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(default=True, help_text="Turned off after a day of failed deliveries.")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["url", "id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url

    def hears(self, event: str) -> bool:
        return self.is_active and event in self.events


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"          # waiting to be sent (first time, or again after a failure)
    SENDING = "sending", "Sending"          # claimed by a worker until locked_until
    DELIVERED = "delivered", "Delivered"    # the endpoint answered 2xx
    FAILED = "failed", "Failed"             # gave up (a day of failures, or the endpoint was disabled)


class WebhookDelivery(models.Model):
    """One event for one endpoint: a row of the durable queue, written with the change that caused it.

    ``webhook_id`` is the ``webhook-id`` header: the same on every attempt (and every
    re-send) of this delivery, so the receiver can drop a second copy. ``body`` is the exact
    JSON sent and signed, fixed when the event happened.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    webhook_id = models.CharField(max_length=40, unique=True, verbose_name="webhook-id")
    event = models.CharField(max_length=40, choices=Event.choices)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    send_after = models.DateTimeField(help_text="Not sent before this time (retries move it).")
    give_up_at = models.DateTimeField(help_text="After the last failed attempt past this time the endpoint is "
                                                "disabled.")
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The sweep's scan: due rows that nobody holds.
            models.Index(fields=["send_after"], name="webhook_due_idx", condition=Q(status__in=["pending", "sending"])),
            models.Index(fields=["-created_at", "-id"], name="webhook_log_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.webhook_id} ({self.status})"
