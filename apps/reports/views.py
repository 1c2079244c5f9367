"""The managers' dashboard: the clinic's numbers for a range, in tables and charts, each table as CSV.

Managers see the whole clinic or one therapist's part; a therapist always sees their own
figures (as in the API); the front desk and assistants get a 403. Bad filters are form errors
on the page and a 400 on a CSV, never a 500.
"""

from __future__ import annotations

import csv
import io

from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.access import role_required
from apps.accounts.roles import Role
from apps.billing.exports import cell
from apps.reports import figures, tables
from apps.reports.forms import FilterForm, with_defaults

REPORT_ROLES = (Role.CLINIC_MANAGER, Role.THERAPIST)


def _form(request) -> FilterForm:
    own = None if request.user.has_role(Role.CLINIC_MANAGER) else request.user
    return FilterForm(with_defaults(request.GET), own_figures_of=own)


def _summary(form: FilterForm) -> dict:
    f = form.filters
    return figures.summary(start=f.start, end=f.end, therapist=f.therapist_id, cause=f.cause)


@role_required(*REPORT_ROLES)
@require_GET
def dashboard(request):
    form = _form(request)
    context = {"form": form, "tables": None}
    if form.is_valid():
        found = _summary(form)
        context.update(found=found, tables=tables.build(found), charts=tables.charts(found),
                       query=request.GET.urlencode())
    return render(request, "reports/dashboard.html", context)


@role_required(*REPORT_ROLES)
@require_GET
def table_csv(request, table: str):
    if table not in tables.TABLE_NAMES:
        raise Http404("No such table.")
    form = _form(request)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in form.errors.items())
        return HttpResponseBadRequest(problems, content_type="text/plain; charset=utf-8")
    chosen = tables.build(_summary(form))[table]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chosen.columns)
    for row in tables.csv_rows(chosen):
        writer.writerow(["" if value is None else cell(value) for value in row])
    f = form.filters
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}-{f.start}-{f.end}.csv"'
    return response
