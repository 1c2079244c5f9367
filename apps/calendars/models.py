from django.conf import settings
from django.db import models
from django.db.models import Q


class CalendarFeedQuerySet(models.QuerySet):
    def open(self):
        return self.filter(revoked_at__isnull=True)


class CalendarFeed(models.Model):
    """A therapist's secret iCalendar address. Only a hash of its token is kept: the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feeds")
    # The token's first characters, stored plainly to find the row; the rest is checked against the hash.
    prefix = models.CharField(max_length=10, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(revoked_at__isnull=True),
                                    name="calendar_feed_one_open_per_user"),
        ]

    def __str__(self) -> str:
        return f"Calendar feed {self.prefix}… of {self.user}"

    @property
    def is_open(self) -> bool:
        return self.revoked_at is None
