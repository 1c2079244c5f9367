"""Bulk Data Access (FHIR Bulk Data IG): ``$export`` kick-off, the status URL, and the output files.

    GET /fhir/R4/$export          Prefer: respond-async   -> 202, Content-Location: the status URL
    GET /fhir/R4/Patient/$export  Prefer: respond-async   -> the same, every patient's compartment
    GET  <status URL>  -> 202 + X-Progress while running; 200 + the manifest when done;
                          500 + OperationOutcome if it failed
    DELETE <status URL> -> 202: cancelled, files deleted
    GET  <file URL>    -> the NDJSON file (application/fhir+ndjson), with the same credentials

Only the user who asked may poll a job and download its files (``requiresAccessToken``: true).
Clinic managers and therapists may export; errors are OperationOutcomes.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import http_date
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.accounts.roles import Role
from apps.fhir import bulk
from apps.fhir.models import ExportJob, ExportLevel, ExportStatus
from apps.fhir.views import FHIR_JSON, FhirView, operation_outcome
from apps.ops.access import record_access

NDJSON = "application/fhir+ndjson"
KICK_OFF_PARAMETERS = {"_outputFormat", "_type", "_since"}


def outcome(http_status: int, code: str, text: str, *, severity: str = "error", headers: dict | None = None):
    """An OperationOutcome answer, as the read API's (``views.operation_outcome``), with extra headers."""
    return Response(operation_outcome(code, text, severity), status=http_status, headers=headers)


class CanExport(BasePermission):
    message = "Only clinic managers and therapists may export clinical records."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.CLINIC_MANAGER, Role.THERAPIST))


class BulkView(FhirView):
    """The read API's view (credentials, FHIR JSON, OperationOutcome errors), for exporting roles."""

    permission_classes = [CanExport]
    http_method_names = ["get", "delete", "head", "options"]

    def job_of(self, request, job_id) -> ExportJob | None:
        """The user's own job, still available; None otherwise (another user's job is not found either)."""
        job = ExportJob.objects.filter(pk=job_id, requested_by=request.user).first()
        if job is None or job.status == ExportStatus.CANCELLED:
            return None
        if job.status == ExportStatus.COMPLETED and job.expires_at and job.expires_at <= timezone.now():
            return None
        return job


class KickOffView(BulkView):
    level = ExportLevel.SYSTEM

    def get(self, request):
        if "respond-async" not in request.headers.get("Prefer", ""):
            return outcome(400, "required", "A bulk export is asynchronous: send the header Prefer: respond-async.")
        accept = request.headers.get("Accept", FHIR_JSON)
        if not any(kind in accept for kind in ("application/fhir+json", "application/json", "*/*")):
            return outcome(400, "not-supported", "Accept application/fhir+json.")
        unknown = sorted(set(request.GET) - KICK_OFF_PARAMETERS)
        if unknown:
            return outcome(400, "not-supported", f"Unknown parameter(s): {', '.join(unknown)}; this server takes "
                                                 f"{', '.join(sorted(KICK_OFF_PARAMETERS))}.")
        repeated = [name for name in request.GET if len(request.GET.getlist(name)) > 1]
        if repeated:
            return outcome(400, "invalid", f"Give {', '.join(repeated)} once (a comma-separated list for _type).")
        try:
            asked = bulk.check_request(level=self.level, output_format=request.GET.get("_outputFormat"),
                                       types=request.GET.get("_type"), since=request.GET.get("_since"))
        except ValidationError as error:
            return outcome(400, "invalid", " ".join(f"{name}: {' '.join(messages)}"
                                                    for name, messages in error.message_dict.items()))
        try:
            job = bulk.start_export(user=request.user, request=asked, request_url=request.build_absolute_uri())
        except bulk.ExportBusy as busy:
            return outcome(429, "throttled", str(busy), headers={"Retry-After": "60"})
        response = HttpResponse(status=202)
        response["Content-Location"] = request.build_absolute_uri(reverse("fhir:export-status", args=[job.pk]))
        return response


class PatientKickOffView(KickOffView):
    level = ExportLevel.PATIENT


class StatusView(BulkView):
    def get(self, request, job_id):
        job = self.job_of(request, job_id)
        if job is None:
            return outcome(404, "not-found", "No such export of yours (finished exports are kept for a limited "
                                             "time, then deleted).")
        if job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
            response = HttpResponse(status=202)
            response["X-Progress"] = job.progress or job.get_status_display()
            response["Retry-After"] = "5"
            return response
        if job.status == ExportStatus.FAILED:
            return outcome(500, "exception", job.error or "The export failed; ask for it again.")
        manifest = {
            "transactionTime": job.started_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request": job.request_url,
            "requiresAccessToken": True,
            "output": [{"type": file.resource_type, "count": file.count,
                        "url": request.build_absolute_uri(reverse("fhir:export-output", args=[job.pk, file.name]))}
                       for file in job.files.all()],
            "error": [],
        }
        response = HttpResponse(json.dumps(manifest), content_type="application/json")
        response["Expires"] = http_date(job.expires_at.timestamp())
        return response

    def delete(self, request, job_id):
        job = self.job_of(request, job_id)
        if job is None:
            return outcome(404, "not-found", "No such export of yours.")
        bulk.cancel_export(job=job)
        return outcome(202, "informational", "The export is cancelled and its files deleted.", severity="information")


class OutputView(BulkView):
    def get(self, request, job_id, name):
        job = self.job_of(request, job_id)
        file = job.files.filter(name=name).first() if job and job.status == ExportStatus.COMPLETED else None
        path = bulk.job_folder(job) / name if file else None
        if path is None or not path.is_file():
            return outcome(404, "not-found", "No such file of yours (finished exports are kept for a limited time).")
        record_access(user=request.user, instance=file, via="fhir")
        response = FileResponse(path.open("rb"), content_type=NDJSON)
        response["Content-Length"] = str(file.size)
        return response
