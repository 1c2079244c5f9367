"""The CapabilityStatement: exactly what this server answers (built from the same tables the views use)."""

from __future__ import annotations

from apps.fhir import mapping, search
from apps.fhir.resources.base import FHIR_VERSION

# Operations on the whole system and on Patient. Other parts of hipclinic append theirs here (e.g. the bulk
# export's ``export``), in their AppConfig.ready(), so the statement lists only what is served.
BULK_DATA = "http://hl7.org/fhir/uv/bulkdata"
SYSTEM_OPERATIONS: list[dict] = [
    {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/export",
     "documentation": "Bulk Data export of every type (GET $export, Prefer: respond-async; _type, _since, "
                      "_outputFormat): NDJSON files, for clinic managers and therapists."},
]
TYPE_OPERATIONS: dict[str, list[dict]] = {
    "Patient": [{"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                 "documentation": "Every resource about one patient (GET Patient/{id}/$everything; _since)."},
                {"name": "export", "definition": f"{BULK_DATA}/OperationDefinition/patient-export",
                 "documentation": "Bulk Data export of every patient's compartment (GET Patient/$export, Prefer: "
                                  "respond-async)."}],
}

_PARAM_DOCS = {
    "_id": "The resource id (comma-separated ids: any of them).",
    "_lastUpdated": "When the record last changed (prefixes eq, gt, lt, ge, le).",
    "patient": "The patient (12 or Patient/12; comma-separated: any of them).",
    "date": "The resource's clinical date (prefixes eq, gt, lt, ge, le).",
    "birthdate": "The patient's date of birth (prefixes eq, gt, lt, ge, le).",
}


def capability_statement(*, base_url: str, date: str) -> dict:
    resources = []
    for name in sorted(mapping.RESOURCE_TYPES):
        spec = mapping.TYPES[name]
        params = [{"name": param, "type": kind, "documentation": _PARAM_DOCS[param]}
                  for param, kind in search.supported_params(spec).items()]
        params.append({"name": "_count", "type": "number",
                       "documentation": f"Results per page (default {search.DEFAULT_COUNT}, "
                                        f"at most {search.MAX_COUNT})."})
        resource = {"type": name, "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params}
        if TYPE_OPERATIONS.get(name):
            resource["operation"] = list(TYPE_OPERATIONS[name])
        resources.append(resource)
    rest = {
        "mode": "server",
        "documentation": "Read-only. Staff credentials: 'Authorization: Token <key>' (from /api/v1/auth/token/) or "
                         "a signed-in session; therapists, assistants and clinic managers.",
        "security": {"cors": False, "description": "Token or session authentication, as /api/v1/."},
        "resource": resources,
    }
    if SYSTEM_OPERATIONS:
        rest["operation"] = list(SYSTEM_OPERATIONS)
    return {
        "resourceType": "CapabilityStatement",
        "instantiates": [f"{BULK_DATA}/CapabilityStatement/bulk-data"],
        "status": "active", "date": date, "kind": "instance",
        "publisher": "hipclinic",
        "software": {"name": "hipclinic"},
        "implementation": {"description": "hipclinic FHIR R4 read API", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", "application/fhir+json"],
        "rest": [rest],
    }
