"""FHIR search parameters read into queryset filters; anything unknown or unreadable is an error, never ignored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q, QuerySet

from apps.fhir.mapping import ResourceType, Source
from hipclinic import zones

DEFAULT_COUNT = 50
MAX_COUNT = 200
COMMON_PARAMS = ("_format", "_count", "_offset")


class SearchError(ValueError):
    """A search the server cannot answer as asked: the message names the parameter (a 400 OperationOutcome)."""


@dataclass
class Search:
    ids: list[list[str]] = field(default_factory=list)  # each _id parameter: any of these ids
    patients: list[list[int]] = field(default_factory=list)
    dates: list[tuple[str, datetime | date, datetime | date]] = field(default_factory=list)  # (prefix, start, end)
    updated: list[tuple[str, datetime | date, datetime | date]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0


def supported_params(spec: ResourceType) -> dict[str, str]:
    """Search parameter name -> FHIR type, for this resource type (the CapabilityStatement lists the same)."""
    params = {"_id": "token"}
    if spec.supports_last_updated:
        params["_lastUpdated"] = "date"
    if spec.supports_patient and spec.name != "Patient":
        params["patient"] = "reference"
    if spec.supports_date:
        params["birthdate" if spec.name == "Patient" else "date"] = "date"
    return params


_PREFIXED = re.compile(r"^(eq|gt|lt|ge|le)?(.+)$")
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def parse_date(name: str, text: str) -> tuple[str, datetime, datetime]:
    """``ge2026-01-01`` -> ("ge", start, end): the instants the value covers, a day (or month, year) in the
    clinic's zone for a date, one instant for a date-time with its offset."""
    match = _PREFIXED.match(text)
    if not text or match is None:
        raise SearchError(f"{name}: give a value, e.g. ge2026-01-01.")
    prefix, value = match.group(1) or "eq", match.group(2)
    partial = _PARTIAL.match(value)
    try:
        if partial:
            year, month, day = int(partial.group(1)), int(partial.group(2) or 1), int(partial.group(3) or 1)
            first = date(year, month, day)
            if partial.group(3):
                after = first + timedelta(days=1)
            elif partial.group(2):
                after = date(year + month // 12, month % 12 + 1, 1)
            else:
                after = date(year + 1, 1, 1)
            zone = zones.clinic_zone()
            start, end = datetime.combine(first, time(), zone), datetime.combine(after, time(), zone)
            # The same instants in UTC: PostgreSQL refuses offsets beyond 15:59, which Python allows.
            return prefix, start.astimezone(UTC), end.astimezone(UTC)
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if instant.tzinfo is not None:
            instant = instant.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SearchError(f"{name}: {value!r} is not a date (YYYY, YYYY-MM, YYYY-MM-DD) or a date-time "
                          f"with its offset, after a prefix eq, gt, lt, ge or le.") from None
    if instant.tzinfo is None:
        raise SearchError(f"{name}: a date-time needs its offset (e.g. 2026-01-01T09:00:00Z).")
    try:
        return prefix, instant, instant + timedelta(microseconds=1)
    except OverflowError:
        raise SearchError(f"{name}: enter a date-time between the years 1 and 9999.") from None


def _whole_number(name: str, text: str, *, low: int, high: int | None = None) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < low:
        raise SearchError(f"{name}: enter a whole number from {low}.")
    return min(int(text), high) if high is not None else int(text)


def parse(spec: ResourceType, query) -> Search:
    """Read a QueryDict of search parameters for one type; unknown parameters and bad values raise SearchError."""
    allowed = supported_params(spec)
    unknown = sorted(name for name in query if name not in allowed and name not in COMMON_PARAMS)
    if unknown:
        raise SearchError(f"Unknown or unsupported search parameter(s) for {spec.name}: {', '.join(unknown)}. "
                          f"Supported: {', '.join([*allowed, '_count', '_offset'])}.")
    search = Search()
    for name in query:
        values = query.getlist(name)
        if name in ("_count", "_offset", "_format") and len(values) > 1:
            raise SearchError(f"{name}: give it once.")
        for value in values:
            if value == "" and name != "_format":
                raise SearchError(f"{name}: give a value, or leave the parameter out.")
            if name == "_id":
                search.ids.append(value.split(","))
            elif name == "patient":
                search.patients.append([_patient_id(part) for part in value.split(",")])
            elif name in ("date", "birthdate"):
                search.dates.append(parse_date(name, value))
            elif name == "_lastUpdated":
                search.updated.append(parse_date(name, value))
            elif name == "_count":
                search.count = _whole_number(name, value, low=0, high=MAX_COUNT)
            elif name == "_offset":
                search.offset = _whole_number(name, value, low=0)
    return search


def _patient_id(text: str) -> int:
    text = text.removeprefix("Patient/")
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise SearchError(f"patient: {text!r} is not a patient id (e.g. 12 or Patient/12).")
    return int(text)


def _field_is_date(model, lookup: str) -> bool:
    """Whether the lookup ends at a DateField (else a date-time: fields and annotations of instants)."""
    try:
        for part in lookup.split("__"):
            model_field = model._meta.get_field(part)
            model = model_field.related_model or model
    except FieldDoesNotExist:
        return False
    return isinstance(model_field, models.DateField) and not isinstance(model_field, models.DateTimeField)


def _range_filter(queryset: QuerySet, lookup: str, prefix: str, start: datetime, end: datetime) -> Q:
    if _field_is_date(queryset.model, lookup):
        zone = zones.clinic_zone()
        start, end = start.astimezone(zone).date(), end.astimezone(zone).date()
        if end == start:  # an instant: the day it falls on
            end = start + timedelta(days=1)
    conditions = {"eq": Q(**{f"{lookup}__gte": start, f"{lookup}__lt": end}),
                  "ge": Q(**{f"{lookup}__gte": start}), "gt": Q(**{f"{lookup}__gte": end}),
                  "le": Q(**{f"{lookup}__lt": end}), "lt": Q(**{f"{lookup}__lt": start})}
    return conditions[prefix]


def filter_queryset(source: Source, queryset: QuerySet, search: Search) -> QuerySet:
    for ids in search.ids:
        pks = [pk for pk in (source.pk_of(resource_id) for resource_id in ids) if pk is not None]
        queryset = queryset.filter(pk__in=pks)
    for patient_ids in search.patients:
        queryset = queryset.filter(**{f"{source.patient}__in": patient_ids})
    for prefix, start, end in search.dates:
        queryset = queryset.filter(_range_filter(queryset, source.date, prefix, start, end))
    for prefix, start, end in search.updated:
        queryset = queryset.filter(_range_filter(queryset, source.updated, prefix, start, end))
    return queryset


def filter_static(resources: list[dict], search: Search) -> list[dict]:
    for ids in search.ids:
        resources = [resource for resource in resources if resource["id"] in ids]
    return resources


def page(spec: ResourceType, search: Search) -> tuple[int, list[tuple[object | None, dict]]]:
    """The total and one page of (row, resource) pairs: a count and at most one slice per source."""
    if spec.static is not None:
        resources = filter_static(spec.static(), search)
        return len(resources), [(None, resource) for resource in resources[search.offset:search.offset + search.count]]
    total, found, skip, wanted = 0, [], search.offset, search.count
    for source in spec.sources:
        queryset = filter_queryset(source, source.queryset(), search)
        count = queryset.count()
        total += count
        if wanted and skip < count:
            rows = list(queryset.order_by("pk")[skip:skip + wanted])
            found.extend((row, source.to_resource(row)) for row in rows)
            wanted -= len(rows)
        skip = max(0, skip - count)
    return total, found
