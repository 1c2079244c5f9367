from django.db import models


class Heartbeat(models.Model):
    """The last time a background process proved it was alive (one row per process kind)."""

    name = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class AccessLog(models.Model):
    """Who opened which clinical record, and when (written on every read of one)."""

    user = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    record_type = models.CharField(max_length=60)  # app_label.model
    record_id = models.CharField(max_length=40)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    via = models.CharField(max_length=10)  # "api" or "admin"
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "clinical record access"
        verbose_name_plural = "clinical record accesses"

    def __str__(self) -> str:
        return f"{self.record_type} #{self.record_id} at {self.at:%Y-%m-%d %H:%M}"
