"""CSV exports of charge lines and payments for a date range: fixed columns, streamed in constant memory.

The rows come from one ``values_list`` query read in chunks (``iterator``: a server-side cursor on
PostgreSQL), each written as soon as it is read, so a month of 100,000 lines never sits in memory.
The columns are fixed and documented in the README (Billing): a spreadsheet or an accountant's import
can rely on them. Text that a spreadsheet would run as a formula is defused (see ``cell``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from django.http import StreamingHttpResponse
from rest_framework import serializers

from apps.billing.models import ChargeLine, Payment

CHUNK = 2000  # rows per fetch from the cursor

CHARGE_LINE_COLUMNS = ["date_of_service", "charge_id", "revision", "status", "patient_record_number", "payer",
                       "therapist", "code", "modifiers", "units", "minutes", "diagnosis_pointers", "diagnoses",
                       "unit_price", "amount", "currency"]
PAYMENT_COLUMNS = ["received_on", "payment_id", "patient_record_number", "method", "amount", "currency",
                   "invoice_number", "is_credit", "reference"]

# A cell starting with one of these is read as a formula by spreadsheets (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> object:
    """Text that a spreadsheet would take for a formula, with a leading apostrophe; numbers and dates as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` hands back what it is given (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def date_range(params) -> tuple[date, date]:
    """``start`` and ``end`` (YYYY-MM-DD, both included) from the query, or a 400 naming the field."""
    problems, days = {}, {}
    for name in ("start", "end"):
        text = params.get(name)
        try:
            days[name] = date.fromisoformat(text) if text and len(text) == 10 else None
        except ValueError:
            days[name] = None
        if days[name] is None:
            problems[name] = ["Enter a date as YYYY-MM-DD."]
    if not problems and days["end"] < days["start"]:
        problems["end"] = ["The end comes on or after the start."]
    if problems:
        raise serializers.ValidationError(problems)
    return days["start"], days["end"]


# ---------------------------------------------------------------------------- charge lines


def charge_line_rows(*, start: date, end: date) -> Iterator[list]:
    """One row per charge line with a date of service in the range, in CHARGE_LINE_COLUMNS' order."""
    rows = (ChargeLine.objects.filter(charge__date_of_service__range=(start, end))
            .order_by("charge__date_of_service", "charge_id", "id")
            .values_list("charge__date_of_service", "charge_id", "charge__revision", "charge__status",
                         "charge__patient__record_number", "charge__payer__name", "charge__therapist__first_name",
                         "charge__therapist__last_name", "charge__therapist__username", "code", "modifiers", "units",
                         "minutes", "diagnosis_pointers", "charge__diagnoses", "unit_price", "amount",
                         "charge__currency"))
    for (day, charge_id, revision, status, record_number, payer, first, last, username, code, modifiers, units,
         minutes, pointers, diagnoses, unit_price, amount, currency) in rows.iterator(chunk_size=CHUNK):
        therapist = f"{first} {last}".strip() or username
        yield [day.isoformat(), charge_id, revision, status, record_number, payer, therapist, code, modifiers, units,
               minutes, pointers, " ".join(diagnoses or []), unit_price, amount, currency]


def payment_rows(*, start: date, end: date) -> Iterator[list]:
    """One row per payment received in the range, in PAYMENT_COLUMNS' order."""
    rows = (Payment.objects.filter(received_on__range=(start, end)).order_by("received_on", "id")
            .values_list("received_on", "id", "patient__record_number", "method", "amount", "currency",
                         "invoice__number", "is_credit", "reference"))
    for received_on, payment_id, record_number, method, amount, currency, number, is_credit, reference in \
            rows.iterator(chunk_size=CHUNK):
        yield [received_on.isoformat(), payment_id, record_number, method, amount, currency, number or "",
               "true" if is_credit else "false", reference]


def _response(name: str, start: date, end: date, lines: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def charge_lines_response(*, start: date, end: date) -> StreamingHttpResponse:
    return _response("charge-lines", start, end,
                     csv_lines(CHARGE_LINE_COLUMNS, charge_line_rows(start=start, end=end)))


def payments_response(*, start: date, end: date) -> StreamingHttpResponse:
    return _response("payments", start, end, csv_lines(PAYMENT_COLUMNS, payment_rows(start=start, end=end)))
