"""Bulk Data exports (FHIR Bulk Data Access, ``$export``): a job per kick-off and the NDJSON files it wrote.

A job belongs to the user who asked for it: only they poll it and download its files, for
``FHIR_EXPORT_HOURS`` after it completed; then the files are deleted (``purge_exports``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ExportLevel(models.TextChoices):
    SYSTEM = "system", "Everything (system level)"
    PATIENT = "patient", "Every patient's compartment (Patient level)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class ExportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=10, choices=ExportLevel.choices)
    types = models.JSONField(help_text="The resource types exported, in order.")
    since = models.DateTimeField(null=True, blank=True, help_text="_since: resources changed at or after it only.")
    request_url = models.URLField(max_length=2000, help_text="The kick-off request, as the manifest repeats it.")
    status = models.CharField(max_length=10, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    progress = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="The manifest's transactionTime.")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of the running task.")
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Its files are deleted then.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="fhir_export_status")]
        constraints = [
            # One unfinished export per user: a second kick-off while one runs is refused (429).
            models.UniqueConstraint(fields=["requested_by"], name="fhir_one_unfinished_export",
                                    condition=models.Q(status__in=["queued", "running"])),
        ]

    def __str__(self):
        return f"{self.get_level_display()} export {self.id} ({self.status})"


class ExportFile(models.Model):
    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=40)
    name = models.CharField(max_length=80, help_text="The file's name in the job's folder, e.g. Patient-1.ndjson.")
    count = models.PositiveIntegerField(help_text="Resources (lines) in the file.")
    size = models.PositiveBigIntegerField(help_text="Bytes.")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="fhir_export_file_name")]

    def __str__(self):
        return self.name
