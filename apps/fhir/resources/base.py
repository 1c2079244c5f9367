"""Code systems, identifier systems, small helpers, and the shapes of a source and a resource type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, OuterRef, QuerySet, Subquery

from apps.accounts.models import User

FHIR_VERSION = "4.0.1"

# Our own systems: code systems for what has no standard code, identifier systems for our numbers.
LOCAL = "https://hipclinic.org/fhir"
CS_HIP_FLEXOR_TESTS = f"{LOCAL}/CodeSystem/hip-flexor-tests"
CS_REFERRAL_CAUSE = f"{LOCAL}/CodeSystem/referral-cause"
CS_STAFF_ROLE = f"{LOCAL}/CodeSystem/staff-role"
CS_APPOINTMENT_KIND = f"{LOCAL}/CodeSystem/appointment-kind"
CS_EXERCISE = f"{LOCAL}/CodeSystem/exercise"
CS_NOTE_KIND = f"{LOCAL}/CodeSystem/visit-note-kind"
CS_OUTCOME_MEASURE = f"{LOCAL}/CodeSystem/outcome-measure"
SID_RECORD_NUMBER = f"{LOCAL}/sid/record-number"
SID_PROGRAM_VERSION = f"{LOCAL}/sid/program-version"
QUESTIONNAIRE_URL = f"{LOCAL}/Questionnaire"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
NPI = "http://hl7.org/fhir/sid/us-npi"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

ORGANIZATION_ID = "clinic"


# ---------------------------------------------------------------------------------------------
# Small helpers


def _clean(value):
    """Drop empty values (FHIR forbids empty strings, arrays and objects), recursively."""
    if isinstance(value, dict):
        cleaned = {key: _clean(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        cleaned = [_clean(item) for item in value]
        return [item for item in cleaned if item not in (None, "", [], {})]
    return value


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: Decimal | float | int | None):
    if value is None:
        return None
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def ref(resource_type: str, resource_id) -> dict:
    return {"reference": f"{resource_type}/{resource_id}"}


def _meta(last_updated: datetime | None) -> dict:
    return {"lastUpdated": _instant(last_updated)}


def _coding(system: str, code: str, display: str = "") -> dict:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str = "", text: str = "") -> dict:
    return {"coding": [_coding(system, code, display)], "text": text or display}


def _quantity(value, unit: str, code: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code}


def _patient_ref(patient_id) -> dict:
    return ref("Patient", patient_id)


def _practitioner_ref(user: User | None) -> dict | None:
    if user is None:
        return None
    return {**ref("Practitioner", user.pk), "display": str(user)}


def _history_changed_at(model) -> Subquery:
    """The time of a row's latest history entry (simple-history): its last change, for rows without updated_at."""
    historical = model.history.model
    return Subquery(historical.objects.filter(id=OuterRef("pk")).order_by().values("id")
                    .annotate(last=Max("history_date")).values("last")[:1])


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


# ---------------------------------------------------------------------------------------------
# Sources: where each type's resources come from


@dataclass(frozen=True)
class Source:
    """Rows that each give one resource: the queryset, the mapping and the fields searches use."""

    queryset: Callable[[], QuerySet]
    to_resource: Callable[[object], dict]
    prefix: str = ""  # the resource id is prefix + pk
    patient: str | None = None  # lookup to the patient's id
    date: str | None = None  # lookup of the resource's clinical date (a date or a datetime field)
    updated: str | None = None  # lookup of the last change (_lastUpdated); None: not tracked

    def resource_id(self, pk) -> str:
        return f"{self.prefix}{pk}"

    def pk_of(self, resource_id: str) -> int | None:
        """The row's pk for a resource id of this source, or None when the id is not of this source."""
        if not resource_id.startswith(self.prefix):
            return None
        rest = resource_id[len(self.prefix):]
        if not rest.isascii() or not rest.isdigit() or len(rest) > 18:
            return None
        return int(rest)


@dataclass(frozen=True)
class ResourceType:
    name: str
    sources: tuple[Source, ...] = ()
    static: Callable[[], list[dict]] | None = None  # a few resources not read from rows
    search_params: tuple[str, ...] = field(default=())

    @property
    def supports_patient(self) -> bool:
        return bool(self.sources) and all(source.patient for source in self.sources)

    @property
    def supports_date(self) -> bool:
        return bool(self.sources) and all(source.date for source in self.sources)

    @property
    def supports_last_updated(self) -> bool:
        return bool(self.sources) and all(source.updated for source in self.sources)
