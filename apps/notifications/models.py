from django.db import models
from django.db.models import Q

from apps.patients.models import Patient


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"      # waiting to be sent (first time, or again after a failure)
    SENDING = "sending", "Sending"      # claimed by a worker until locked_until
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"         # gave up after the last retry; re-send from the admin
    SKIPPED = "skipped", "Skipped"      # not sent on purpose (consent withdrawn, patient archived)


class OutboxEmail(models.Model):
    """One e-mail to send, written in the same transaction as the change that caused it.

    ``key`` is unique: queueing the same key twice is a no-op, so a message is never
    created (and so never sent) twice, whatever is retried or re-run.
    """

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=50, db_index=True)
    patient = models.ForeignKey(Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="emails")
    to_email = models.EmailField()
    subject = models.CharField(max_length=200)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    # A row queued in bulk by SQL has no bodies but its templates and a JSON context: it is
    # rendered when sent (``apps.notifications.services.message_bodies``).
    text_template = models.CharField(max_length=100, blank=True)
    html_template = models.CharField(max_length=100, blank=True)
    context = models.JSONField(default=dict, blank=True)
    # [{"filename": ..., "content_type": ..., "content": <text>}], binary content in base64 with "encoding": "base64"
    attachments = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    send_after = models.DateTimeField(help_text="Not sent before this time (retries and quiet hours move it).")
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox e-mail"
        indexes = [
            # The sweep's scan: due rows that nobody holds.
            models.Index(fields=["send_after"], name="outbox_due_idx", condition=Q(status__in=["pending", "sending"])),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
