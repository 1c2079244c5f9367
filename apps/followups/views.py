"""The patient logs sessions, and answers the next-morning question, through their signed link.

Every page takes the link's token first: a tampered, expired or revoked link shows the same
page as the program (404), and the token opens its own patient's logs only.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from apps.followups import selectors, services
from apps.followups.forms import NextMorningForm, SessionForm, session_item_formset
from apps.followups.models import LogSource, SessionLog
from apps.prescriptions import services as prescriptions
from hipclinic.errors import place_errors


def _invalid_link(request):
    return render(request, "prescriptions/link_invalid.html", status=404)


def _open(token: str):
    """(link, current program) for a working link, else None."""
    link = prescriptions.link_from_token(token)
    if link is None:
        return None
    return link, prescriptions.current_program(link.patient)


def _patients_log(link, log_id: int) -> SessionLog:
    return get_object_or_404(SessionLog.objects.select_related("program"), pk=log_id,
                             program__patient_id=link.patient_id)


@never_cache
def log_session(request, token: str):
    """The session form: the day, each exercise's sets, last set and pain, effort and a note."""
    opened = _open(token)
    if opened is None:
        return _invalid_link(request)
    link, program = opened
    if program is None:
        return render(request, "followups/no_program.html", {"patient": link.patient})
    program_items = list(program.items.all())
    today = services.patient_today(program)
    if request.method == "POST":
        form = SessionForm(request.POST, first_day=program.start_date, last_day=today)
        formset = session_item_formset(program_items, request.POST)
        if form.is_valid() & formset.is_valid():
            # Staff signed in and logging through the link: an in-clinic session.
            in_clinic = request.user.is_authenticated and request.user.has_perm("followups.add_sessionlog")
            try:
                log = services.log_session(
                    program=program, session_date=form.cleaned_data["session_date"], items=formset.rows(),
                    submission_key=str(form.cleaned_data["submission_key"]),
                    effort=form.cleaned_data["effort"], note=form.cleaned_data["note"],
                    source=LogSource.CLINIC if in_clinic else LogSource.PATIENT,
                    logged_by=request.user if in_clinic else None,
                )
            except ValidationError as error:
                # The program's and the exercises' reasons go above the exercises; the rest by field.
                place_errors(error, [form], elsewhere={name: formset.non_form_errors().extend
                                                       for name in ("items", "program")})
            else:
                return redirect("followups:thanks", token=token, log_id=log.pk)
    else:
        form = SessionForm(initial={"session_date": today}, first_day=program.start_date, last_day=today)
        formset = session_item_formset(program_items)
    return render(request, "followups/log_session.html", {
        "patient": link.patient, "program": program, "form": form, "formset": formset,
        "rows": list(zip(program_items, formset.forms, strict=False)), "token": token, "today": today,
    }, status=400 if request.method == "POST" else 200)


@never_cache
def thanks(request, token: str, log_id: int):
    """Thanks, and how this week is going."""
    opened = _open(token)
    if opened is None:
        return _invalid_link(request)
    link, _program = opened
    log = _patients_log(link, log_id)
    program = log.program
    today = services.patient_today(program)
    this_week = next((week for week in selectors.program_weeks(program, today=today)
                      if today < week.start + timedelta(days=7)), None)
    return render(request, "followups/thanks.html",
                  {"patient": link.patient, "log": log, "week": this_week, "token": token})


@never_cache
def next_morning(request, token: str, log_id: int):
    """Better, the same or worse the morning after, for each exercise of one session."""
    opened = _open(token)
    if opened is None:
        return _invalid_link(request)
    link, _program = opened
    log = _patients_log(link, log_id)
    log_items = list(log.items.select_related("exercise").order_by("id"))
    if not log_items:
        raise Http404
    form = NextMorningForm(request.POST if request.method == "POST" else None, log_items=log_items)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                for row, answer in form.answers():
                    services.record_next_morning(log_item=row, answer=answer)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            return render(request, "followups/morning_thanks.html", {"patient": link.patient, "token": token})
    return render(request, "followups/next_morning.html",
                  {"patient": link.patient, "log": log, "form": form, "token": token},
                  status=400 if request.method == "POST" else 200)
