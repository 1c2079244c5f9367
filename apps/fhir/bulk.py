"""Bulk Data exports: kick-off, the task that writes the NDJSON files, cancelling, and the purge.

The task reads each resource type through ``apps.fhir.mapping.iter_resources`` (the same mapping
as the read API) and writes one line per resource, never holding more than one chunk of rows:
memory stays constant whatever the clinic's size. A file holds at most ``LINES_PER_FILE``
resources (``Patient-1.ndjson``, ``Patient-2.ndjson``, ...). The task is idempotent: a second
run of a job (a worker killed, a message delivered twice) starts its files again; a finished or
cancelled job is left alone. Beat's ``sweep_exports`` queues jobs whose task never started or
went silent, and deletes expired files.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.fhir import mapping
from apps.fhir.models import ExportFile, ExportJob, ExportLevel, ExportStatus
from apps.fhir.search import SearchError, parse_date

log = logging.getLogger("hipclinic.fhir")

LINES_PER_FILE = 100_000
HEARTBEAT_EVERY = 2_000  # lines between two signs of life (and checks for a cancellation)
SILENT_AFTER = timedelta(minutes=10)  # a queued or running job with no sign of life for this long is queued again
# Types outside any patient's compartment: a Patient-level export leaves them out.
DEFINITIONAL_TYPES = frozenset({"Organization", "Practitioner", "PractitionerRole", "Questionnaire"})
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")


def export_root() -> Path:
    return Path(settings.FHIR_EXPORT_DIR)


def job_folder(job: ExportJob) -> Path:
    return export_root() / str(job.id)


def exportable_types(level: str) -> tuple[str, ...]:
    if level == ExportLevel.PATIENT:
        return tuple(t for t in mapping.RESOURCE_TYPES if t not in DEFINITIONAL_TYPES)
    return tuple(mapping.RESOURCE_TYPES)


@dataclass(frozen=True)
class Request:
    level: str
    types: tuple[str, ...]
    since: datetime | None


def check_request(*, level: str, output_format: str | None, types: str | None, since: str | None) -> Request:
    """The kick-off's parameters, checked: a ValidationError naming the parameter for anything unusable."""
    errors = {}
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        errors["_outputFormat"] = f"Only NDJSON is written: {', '.join(OUTPUT_FORMATS)}."
    allowed = exportable_types(level)
    chosen = allowed
    if types is not None:
        asked = [t.strip() for t in types.split(",")]
        unknown = [t for t in asked if t not in allowed]
        if unknown or not all(asked):
            errors["_type"] = (f"Unknown or not exportable at this level: {', '.join(unknown) or '(empty)'}; "
                               f"choose from {', '.join(allowed)}.")
        else:
            chosen = tuple(t for t in allowed if t in asked)  # in the export's order, each once
    parsed_since = None
    if since is not None:
        try:  # read as the read API reads _since (an instant, in UTC, or the start of a clinic day)
            prefix, parsed_since, _end = parse_date("_since", since)
        except SearchError as error:
            errors["_since"] = str(error)
        else:
            if prefix != "eq":
                errors["_since"] = "An instant, without a prefix."
            elif parsed_since > timezone.now():
                errors["_since"] = "_since is in the future."
    if errors:
        raise ValidationError(errors)
    return Request(level=level, types=chosen, since=parsed_since)


class ExportBusy(Exception):
    """The user already has an export queued or running."""


def start_export(*, user, request: Request, request_url: str) -> ExportJob:
    """Record the job and queue its task (after the commit). One unfinished export per user at a time."""
    from apps.fhir.tasks import run_bulk_export

    try:
        with transaction.atomic():
            job = ExportJob.objects.create(requested_by=user, level=request.level, types=list(request.types),
                                           since=request.since, request_url=request_url, heartbeat_at=timezone.now())
    except IntegrityError:  # the constraint fhir_one_unfinished_export: two at once cannot both pass
        raise ExportBusy("An export of yours is still running: wait for it, or cancel it (DELETE its status URL).") \
            from None
    transaction.on_commit(lambda: run_bulk_export.delay(str(job.id)))
    log.info("fhir export queued id=%s level=%s types=%d", job.id, job.level, len(job.types))
    return job


def _claim(job_id) -> ExportJob | None:
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
            return None
        now = timezone.now()
        job.status, job.started_at, job.heartbeat_at, job.progress = ExportStatus.RUNNING, now, now, ""
        job.save(update_fields=["status", "started_at", "heartbeat_at", "progress"])
    return job


def _still_wanted(job: ExportJob, progress: str) -> bool:
    """A sign of life; False when the job was cancelled meanwhile."""
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        heartbeat_at=timezone.now(), progress=progress[:200])
    return bool(updated)


def run_export(job_id) -> str:
    """Write the job's files (again, from the start, if a run was interrupted)."""
    job = _claim(job_id)
    if job is None:
        return "nothing to do"
    folder = job_folder(job)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ExportFile.objects.filter(job=job).delete()
    written = 0
    try:
        for resource_type in job.types:
            counted = _write_type(job, folder, resource_type)
            if counted is None:
                shutil.rmtree(folder, ignore_errors=True)
                return "cancelled"
            written += counted
        finished = timezone.now()
        done = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.COMPLETED, finished_at=finished, heartbeat_at=finished,
            expires_at=finished + timedelta(hours=settings.FHIR_EXPORT_HOURS),
            progress=f"{written} resources in {len(job.types)} types")
        if not done:
            shutil.rmtree(folder, ignore_errors=True)
            return "cancelled"
    except Exception as error:
        log.exception("fhir export failed id=%s", job.id)
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, finished_at=timezone.now(),
                                                   error=f"{type(error).__name__}: the export stopped; ask again.")
        shutil.rmtree(folder, ignore_errors=True)
        return "failed"
    log.info("fhir export completed id=%s resources=%d", job.id, written)
    return f"{written} resources"


def _write_type(job: ExportJob, folder: Path, resource_type: str) -> int | None:
    """One type's files; the number of resources, or None when the job was cancelled meanwhile."""
    total, part, lines, handle = 0, 0, 0, None

    def close():
        if handle is not None:
            handle.close()
            path = folder / name
            ExportFile.objects.create(job=job, resource_type=resource_type, name=name, count=lines,
                                      size=path.stat().st_size)

    try:
        for resource in mapping.iter_resources(resource_type, patient_ids=None, since=job.since):
            if handle is None or lines == LINES_PER_FILE:
                close()
                part, lines = part + 1, 0
                name = f"{resource_type}-{part}.ndjson"
                handle = (folder / name).open("w", encoding="utf-8")
            handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")
            lines += 1
            total += 1
            if total % HEARTBEAT_EVERY == 0 and not _still_wanted(job, f"{resource_type}: {total} written"):
                handle.close()
                return None
        close()
        handle = None
    finally:
        if handle is not None and not handle.closed:
            handle.close()
    return total if _still_wanted(job, f"{resource_type}: {total} written") else None


def cancel_export(*, job: ExportJob) -> None:
    """DELETE on the status URL: stop the job (the task notices within a chunk) and delete its files."""
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.CANCELLED, finished_at=timezone.now())
    shutil.rmtree(job_folder(job), ignore_errors=True)
    log.info("fhir export cancelled id=%s", job.id)


def sweep_exports(*, now: datetime | None = None) -> dict:
    """Beat: queue again the jobs that went silent; delete the files of expired exports (and their jobs'
    file rows), and the folders of jobs that no longer exist."""
    from apps.fhir.tasks import run_bulk_export

    now = now or timezone.now()
    silent = list(ExportJob.objects.filter(status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING),
                                           heartbeat_at__lt=now - SILENT_AFTER).values_list("pk", flat=True))
    for job_id in silent:
        ExportJob.objects.filter(pk=job_id).update(heartbeat_at=now)
        run_bulk_export.delay(str(job_id))
    expired = list(ExportJob.objects.filter(status=ExportStatus.COMPLETED, expires_at__lte=now))
    for job in expired:
        shutil.rmtree(job_folder(job), ignore_errors=True)
    ExportFile.objects.filter(job__in=expired).delete()
    known = {str(pk) for pk in ExportJob.objects.filter(
        Q(status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
        | Q(status=ExportStatus.COMPLETED, expires_at__gt=now)).values_list("pk", flat=True)}
    orphans = 0
    if export_root().exists():
        for folder in export_root().iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                orphans += 1
    return {"requeued": len(silent), "expired": len(expired), "orphan_folders": orphans}
