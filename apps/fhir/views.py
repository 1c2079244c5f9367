"""The FHIR R4 read API under /fhir/R4/: metadata, read, search and Patient/$everything.

DRF views for the same authentication as /api/v1/ (token, then session); every answer, errors
included, is FHIR JSON (``application/fhir+json``), errors as an OperationOutcome.
"""

from __future__ import annotations

import re

from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.fhir import capability, mapping
from apps.fhir.search import SearchError, page, parse, parse_date
from apps.ops.models import AccessLog

FHIR_JSON = "application/fhir+json"
ACCEPTED_FORMATS = ("json", FHIR_JSON, "application/json", "application/json+fhir")
# Who reads clinical records (README "Roles"): assistants read them to treat; the front desk never does.
READER_ROLES = (Role.THERAPIST, Role.ASSISTANT, Role.CLINIC_MANAGER)


class FhirJsonRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "json"


class AlwaysFhirJson(BaseContentNegotiation):
    """One representation: FHIR JSON, whatever Accept says (``_format`` is checked by the view)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReadsClinicalRecords(BasePermission):
    message = "Your role does not read clinical records."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(*READER_ROLES))


def operation_outcome(code: str, text: str, severity: str = "error") -> dict:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text}]}


def outcome_response(http_status: int, code: str, text: str) -> Response:
    return Response(operation_outcome(code, text), status=http_status)


class FhirView(APIView):
    renderer_classes = [FhirJsonRenderer]
    content_negotiation_class = AlwaysFhirJson
    permission_classes = [ReadsClinicalRecords]
    http_method_names = ["get", "head", "options"]
    schema = None  # FHIR is described by its own CapabilityStatement (metadata), not the OpenAPI schema

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        wanted = request.query_params.get("_format")
        if wanted is not None and wanted not in ACCEPTED_FORMATS:
            raise SearchError(f"_format: only JSON is served ({', '.join(ACCEPTED_FORMATS)}).")

    def handle_exception(self, exc):
        if isinstance(exc, SearchError):
            return outcome_response(status.HTTP_400_BAD_REQUEST, "invalid", str(exc))
        response = super().handle_exception(exc)  # authentication headers, throttling waits
        code = {401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported", 429: "throttled"}.get(
            response.status_code, "processing")
        detail = getattr(exc, "detail", None) or str(exc)
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            detail = "Sign in, or send 'Authorization: Token <key>'."
        response.data = operation_outcome(code, str(detail))
        return response

    def base_url(self, request) -> str:
        return request.build_absolute_uri("/fhir/R4/").rstrip("/")


def log_reads(user, found) -> None:
    """One access-log row per record read (one INSERT for a page), as the rest of the API logs a read."""
    rows = []
    for row, resource in found:
        if row is None:
            continue
        rows.append(AccessLog(user=user, record_type=row._meta.label_lower, record_id=str(row.pk),
                              patient_id=_patient_of(resource), via="fhir"))
    AccessLog.objects.bulk_create(rows)


def _patient_of(resource: dict) -> int | None:
    if resource["resourceType"] == "Patient":
        return int(resource["id"])
    for key in ("subject", "patient"):
        reference = resource.get(key, {}).get("reference", "")
        if reference.startswith("Patient/"):
            return int(reference.removeprefix("Patient/"))
    if resource["resourceType"] == "Appointment":
        return int(resource["participant"][0]["actor"]["reference"].removeprefix("Patient/"))
    return None


def _unknown_type(resource_type: str) -> Response:
    return outcome_response(status.HTTP_404_NOT_FOUND, "not-supported",
                            f"Unknown resource type {resource_type!r}: see metadata for the types served.")


class MetadataView(FhirView):
    def get(self, request):
        unknown = sorted(set(request.query_params) - {"_format"})
        if unknown:
            raise SearchError(f"Unknown parameter(s): {', '.join(unknown)}.")
        return Response(capability.capability_statement(base_url=self.base_url(request),
                                                        date=timezone.now().date().isoformat()))


class SearchView(FhirView):
    def get(self, request, resource_type: str):
        spec = mapping.TYPES.get(resource_type)
        if spec is None:
            return _unknown_type(resource_type)
        search = parse(spec, request.query_params)
        total, found = page(spec, search)
        log_reads(request.user, found)
        base = self.base_url(request)
        links = [{"relation": "self", "url": self._page_url(request, search.offset, search.count)}]
        if search.count and search.offset + search.count < total:
            links.append({"relation": "next", "url": self._page_url(request, search.offset + search.count,
                                                                    search.count)})
        if search.offset > 0 and search.count:
            links.append({"relation": "previous",
                          "url": self._page_url(request, max(0, search.offset - search.count), search.count)})
        return Response({
            "resourceType": "Bundle", "type": "searchset", "total": total, "link": links,
            "entry": [{"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource,
                       "search": {"mode": "match"}} for _row, resource in found],
        })

    def _page_url(self, request, offset: int, count: int) -> str:
        query = request.query_params.copy()
        query["_offset"], query["_count"] = str(offset), str(count)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


class ReadView(FhirView):
    def get(self, request, resource_type: str, resource_id: str):
        spec = mapping.TYPES.get(resource_type)
        if spec is None:
            return _unknown_type(resource_type)
        unknown = sorted(set(request.query_params) - {"_format"})
        if unknown:
            raise SearchError(f"Unknown parameter(s) for a read: {', '.join(unknown)}.")
        row, resource = None, None
        if _ID.match(resource_id):
            if spec.static is not None:
                resource = mapping.read(resource_type, resource_id)
            else:
                found = mapping.read_row(resource_type, resource_id)
                if found is not None:
                    source, row = found
                    resource = source.to_resource(row)
        if resource is None:
            return outcome_response(status.HTTP_404_NOT_FOUND, "not-found",
                                    f"{resource_type}/{resource_id} is not known here.")
        log_reads(request.user, [(row, resource)])
        return Response(resource)


class EverythingView(FhirView):
    def get(self, request, resource_id: str):
        unknown = sorted(set(request.query_params) - {"_format", "_since"})
        if unknown:
            raise SearchError(f"Unknown parameter(s) for $everything: {', '.join(unknown)}.")
        since = None
        if "_since" in request.query_params:
            prefix, since, _end = parse_date("_since", request.query_params["_since"])
            if prefix != "eq":
                raise SearchError("_since: an instant, without a prefix.")
        found = mapping.read_row("Patient", resource_id) if re.fullmatch(r"[0-9]{1,18}", resource_id) else None
        if found is None:
            return outcome_response(status.HTTP_404_NOT_FOUND, "not-found", f"Patient/{resource_id} is not known here.")
        patient = found[1]
        resources = []
        for resource_type in mapping.RESOURCE_TYPES:
            spec = mapping.TYPES[resource_type]
            if spec.supports_patient:
                resources.extend(mapping.iter_resources(resource_type, patient_ids=[patient.pk], since=since))
        practitioners = sorted({ref for resource in resources for ref in _practitioner_refs(resource)})
        if practitioners:
            resources[0:0] = [resource for resource in mapping.iter_resources("Practitioner")
                              if resource["id"] in practitioners]
        resources[0:0] = mapping.TYPES["Organization"].static()
        log_reads(request.user, [(patient, mapping.patient_resource(patient))])
        base = self.base_url(request)
        return Response({
            "resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": [{"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource,
                       "search": {"mode": "include" if resource["resourceType"] in _INCLUDED else "match"}}
                      for resource in resources],
        })


_INCLUDED = ("Organization", "Practitioner")  # referenced by the patient's resources, not about the patient


def _practitioner_refs(value):
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference.startswith("Practitioner/"):
            yield reference.removeprefix("Practitioner/")
        for item in value.values():
            yield from _practitioner_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _practitioner_refs(item)


class NotFoundView(FhirView):
    permission_classes = []
    authentication_classes = []

    def get(self, request, rest: str = ""):
        return outcome_response(status.HTTP_404_NOT_FOUND, "not-found", "No such FHIR interaction here.")
