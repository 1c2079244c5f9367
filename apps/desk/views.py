"""The front desk's pages: parse input, call a service or selector, render.

GET never changes anything; every change is a POST (with CSRF) to a service, whose
``ValidationError`` is shown next to the field it names. No clinical content is loaded
or shown: a positive red-flag screen appears only as "awaiting therapist review".
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.access import role_required
from apps.accounts.roles import Role
from apps.desk import forms
from apps.desk import selectors as desk_selectors
from apps.patients import selectors as patient_selectors
from apps.patients import services as patient_services
from apps.patients.models import Patient
from apps.scheduling import selectors as scheduling_selectors
from apps.scheduling import services as scheduling_services
from apps.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, WaitlistEntry, WaitlistStatus
from hipclinic.errors import place_errors

DESK_ROLES = (Role.FRONT_DESK, Role.THERAPIST, Role.CLINIC_MANAGER)
PATIENTS_PER_PAGE = 25
# A week of 15-minute slots for several therapists runs to hundreds: show the first ones.
MAX_SLOTS_SHOWN = 80


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%a %d %b %Y %H:%M")


def _next_or(request, default: str) -> str:
    """The posted ``next`` address when it is on this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _day_url(moment) -> str:
    return reverse("desk:day", kwargs={"day": timezone.localtime(moment).date()})


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _patient_or_404(patient_id: int) -> Patient:
    try:
        return desk_selectors.patient_for_desk(patient_id=patient_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None


def _appointment_or_404(appointment_id: int) -> Appointment:
    appointment = get_object_or_404(desk_selectors.appointments_for_desk(), pk=appointment_id)
    appointment.patient.red_flag_alert = appointment.red_flag_alert  # for the patient heading
    return appointment


# ---------------------------------------------------------------------------- schedule


@role_required(*DESK_ROLES)
@require_GET
def home(request):
    if "day" in request.GET:  # the "go to day" box
        try:
            return redirect("desk:day", day=date.fromisoformat(request.GET["day"]))
        except ValueError:
            messages.error(request, "Enter the day as a date, e.g. 2025-03-31.")
    return _day_page(request, timezone.localdate())


@role_required(*DESK_ROLES)
@require_GET
def day(request, day: date):
    return _day_page(request, day)


def _day_page(request, day: date):
    today = timezone.localdate()
    context = {
        "day": day,
        "today": today,
        "is_today": day == today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "columns": desk_selectors.day_schedule(day=day),
        "now": timezone.now(),
        "here": request.get_full_path(),
    }
    return render(request, "desk/day.html", context)


# ---------------------------------------------------------------------------- patients


@role_required(*DESK_ROLES)
@require_GET
def patient_search(request):
    form = forms.PatientSearchForm(request.GET or None)
    page = None
    text = ""
    if form.is_valid():
        text = form.cleaned_data["q"].strip()
        if text:
            patients = patient_selectors.patient_list(text=text, include_archived=form.cleaned_data["archived"])
            page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "desk/patient_search.html",
                  {"form": form, "page": page, "text": text, "query": query.urlencode()})


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def patient_register(request):
    patient_form = forms.PatientForm(request.POST or None)
    referral_form = forms.ReferralForm(request.POST or None, initial={"referral_date": timezone.localdate()})
    # "&", not "and": validate both halves so every error shows at once.
    if request.method == "POST" and patient_form.is_valid() & referral_form.is_valid():
        data = patient_form.cleaned_data
        duplicates = list(patient_selectors.possible_duplicates(
            first_name=data["first_name"], last_name=data["last_name"],
            date_of_birth=data["date_of_birth"], email=data["email"],
        ))
        if duplicates:
            # Ask again, with the matches listed and the "different person" box required.
            patient_form = forms.PatientForm(request.POST, duplicates=duplicates)
        if patient_form.is_valid():
            patient = patient_form.save(commit=False)
            referral = referral_form.save(commit=False)
            try:
                patient = patient_services.register_patient(
                    patient=patient, referral=referral, registered_by=request.user
                )
            except ValidationError as error:
                patient.pk = patient.record_number = None  # the transaction was rolled back
                place_errors(error, [patient_form, referral_form])
            else:
                messages.success(request, f"Registered {patient.full_name} as {patient.record_number}.")
                return redirect("desk:patient", patient_id=patient.pk)
    return render(request, "desk/patient_register.html", {
        "patient_form": patient_form,
        "referral_form": referral_form,
        "duplicates": patient_form.duplicates,
    })


def _patient_page(request, patient: Patient, *, waitlist_form=None, status: int = 200):
    upcoming, past = desk_selectors.patient_appointments(patient=patient, hints=True)
    if waitlist_form is None:
        waitlist_form = forms.WaitlistForm(patient=patient, upcoming=upcoming)
    context = {
        "patient": patient,
        "upcoming": upcoming,
        "past": past,
        "waitlist_entries": WaitlistEntry.objects.filter(patient=patient, status=WaitlistStatus.WAITING)
        .select_related("kind", "therapist"),
        "waitlist_form": waitlist_form,
        "now": timezone.now(),
        "today": timezone.localdate(),
        "here": request.path,
    }
    return render(request, "desk/patient_detail.html", context, status=status)


@role_required(*DESK_ROLES)
@require_GET
def patient_detail(request, patient_id: int):
    return _patient_page(request, _patient_or_404(patient_id))


@role_required(*DESK_ROLES)
@require_POST
def patient_waitlist_add(request, patient_id: int):
    patient = _patient_or_404(patient_id)
    upcoming, _past = desk_selectors.patient_appointments(patient=patient)
    form = forms.WaitlistForm(request.POST, patient=patient, upcoming=upcoming)
    if form.is_valid():
        data = form.cleaned_data
        try:
            scheduling_services.add_to_waitlist(
                patient=patient, kind=data["kind"], therapist=data["therapist"], earliest=data["earliest"],
                latest=data["latest"], current_appointment=data["current_appointment"], note=data["note"],
                created_by=request.user,
            )
        except ValidationError as error:
            place_errors(error, [form])
        else:
            messages.success(request, f"{patient.full_name} is on the waitlist for {data['kind']}.")
            return redirect("desk:patient", patient_id=patient.pk)
    return _patient_page(request, patient, waitlist_form=form)


@role_required(*DESK_ROLES)
@require_POST
def patient_archive(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    try:
        patient_services.archive_patient(patient=patient, archived_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"{patient.full_name}'s record is archived.")
    return redirect("desk:patient", patient_id=patient.pk)


@role_required(*DESK_ROLES)
@require_POST
def patient_restore(request, patient_id: int):
    patient = get_object_or_404(Patient, pk=patient_id)
    patient_services.restore_patient(patient=patient, restored_by=request.user)
    messages.success(request, f"{patient.full_name}'s record is restored.")
    return redirect("desk:patient", patient_id=patient.pk)


# ---------------------------------------------------------------------------- booking


def _slot_search(request, *, fixed_kind=None):
    """The GET search form and the free slots it finds, grouped by local day."""
    data = request.GET if "start_date" in request.GET else None
    search = forms.SlotSearchForm(data, fixed_kind=fixed_kind,
                                  initial=forms.SlotSearchForm.initial_for(fixed_kind))
    if data is None:
        # First visit: search the coming week with the defaults, for a kind if one is fixed.
        if fixed_kind is None:
            return search, None, False
        cleaned = {**forms.SlotSearchForm.initial_for(), "kind": fixed_kind, "therapist": None}
    elif search.is_valid():
        cleaned = {"kind": fixed_kind, **search.cleaned_data}
    else:
        return search, None, False
    slots = scheduling_selectors.free_slots(
        kind=cleaned["kind"], therapist=cleaned["therapist"],
        start_date=cleaned["start_date"], end_date=cleaned["end_date"],
    )
    more = len(slots) > MAX_SLOTS_SHOWN
    slots = slots[:MAX_SLOTS_SHOWN]
    by_day = groupby(slots, key=lambda slot: timezone.localtime(slot.start).date())
    days = [(day, list(day_slots)) for day, day_slots in by_day]
    return search, {"kind": cleaned["kind"], "days": days}, more


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def patient_book(request, patient_id: int):
    patient = _patient_or_404(patient_id)
    allow_overlap = request.user.has_role(Role.CLINIC_MANAGER)
    kind_param = request.GET.get("kind", "")
    # ?kind= takes an id or a slug (the follow-ups list asks for "reassessment").
    kind = (AppointmentKind.objects.filter(pk=kind_param).first() if kind_param.isdigit()
            else AppointmentKind.objects.filter(slug=kind_param).first())
    booking = forms.BookingForm(request.POST or None, allow_overlap=allow_overlap,
                                initial={"kind": kind.pk if kind else None, "therapist": request.GET.get("therapist")})
    if request.method == "POST" and booking.is_valid():
        data = booking.cleaned_data
        try:
            appointment = scheduling_services.book_appointment(
                patient=patient, therapist=data["therapist"], kind=data["kind"], start=booking.start,
                end=booking.end, overlap_reason=data.get("overlap_reason", ""), booked_by=request.user,
            )
        except ValidationError as error:
            place_errors(error, [booking], field_map=booking.SERVICE_FIELDS)
        else:
            messages.success(request, f"Booked {appointment.kind} with {appointment.therapist} on "
                                      f"{_local(appointment.start)}.")
            _link_followup(request, patient, appointment)
            return redirect("desk:patient", patient_id=patient.pk)
    search, found, more = _slot_search(request)
    return render(request, "desk/book.html", {
        "patient": patient, "search": search, "found": found, "more": more, "booking": booking,
        "max_slots": MAX_SLOTS_SHOWN,
    })


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request, appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    allow_overlap = request.user.has_role(Role.CLINIC_MANAGER)
    booking = forms.BookingForm(request.POST or None, fixed_kind=appointment.kind, allow_overlap=allow_overlap,
                                initial={"therapist": appointment.therapist_id})
    if request.method == "POST" and booking.is_valid():
        data = booking.cleaned_data
        try:
            moved = scheduling_services.reschedule_appointment(
                appointment=appointment, therapist=data["therapist"], start=booking.start, end=booking.end,
                overlap_reason=data.get("overlap_reason"),
                changed_by=request.user,
            )
        except ValidationError as error:
            place_errors(error, [booking], field_map=booking.SERVICE_FIELDS)
        else:
            messages.success(request, f"Moved {moved.kind} to {_local(moved.start)} with {moved.therapist}.")
            return redirect("desk:patient", patient_id=moved.patient_id)
    search, found, more = _slot_search(request, fixed_kind=appointment.kind)
    return render(request, "desk/reschedule.html", {
        "appointment": appointment, "patient": appointment.patient, "search": search, "found": found,
        "more": more, "booking": booking, "max_slots": MAX_SLOTS_SHOWN,
        "movable": appointment.status == AppointmentStatus.BOOKED,
    })


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def appointment_cancel(request, appointment_id: int):
    appointment = _appointment_or_404(appointment_id)
    form = forms.CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            scheduling_services.cancel_appointment(
                appointment=appointment, reason=form.cleaned_data["reason"], cancelled_by=request.user
            )
        except ValidationError as error:
            place_errors(error, [form])
        else:
            messages.success(request, f"Cancelled {appointment.kind} for {appointment.patient.full_name} on "
                                      f"{_local(appointment.start)}.")
            return redirect(_next_or(request, reverse("desk:patient", args=[appointment.patient_id])))
    return render(request, "desk/cancel.html", {
        "appointment": appointment, "patient": appointment.patient, "form": form,
        "next": _next_or(request, ""),
        "back": _next_or(request, reverse("desk:patient", args=[appointment.patient_id])),
    })


def _status_change(request, appointment_id: int, change, done: str):
    appointment = _appointment_or_404(appointment_id)
    try:
        change(appointment=appointment, changed_by=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"{appointment.patient.full_name} ({_local(appointment.start)}): {done}.")
    return redirect(_next_or(request, _day_url(appointment.start)))


@role_required(*DESK_ROLES)
@require_POST
def appointment_check_in(request, appointment_id: int):
    return _status_change(request, appointment_id, scheduling_services.check_in, "checked in")


@role_required(*DESK_ROLES)
@require_POST
def appointment_check_out(request, appointment_id: int):
    """The visit is over: the appointment is completed (its note can then be signed)."""
    return _status_change(request, appointment_id, scheduling_services.complete_appointment, "checked out")


@role_required(*DESK_ROLES)
@require_POST
def appointment_no_show(request, appointment_id: int):
    return _status_change(request, appointment_id, scheduling_services.mark_no_show, "marked as a no-show")


# ---------------------------------------------------------------------------- series and waitlist


@role_required(*DESK_ROLES)
@require_http_methods(["GET", "POST"])
def patient_series(request, patient_id: int):
    patient = _patient_or_404(patient_id)
    form = forms.SeriesForm(request.POST or None, initial={"therapist": request.GET.get("therapist")})
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = scheduling_services.book_series(
                patient=patient, therapist=data["therapist"], kind=data["kind"], first_start=form.first_start,
                occurrences=data["occurrences"], interval_weeks=data["interval_weeks"], booked_by=request.user,
            )
        except ValidationError as error:
            place_errors(error, [form], field_map=form.SERVICE_FIELDS)
        else:
            if not result.booked:
                form.add_error(None, "Nothing was booked: every date clashed (see below).")
    return render(request, "desk/series.html", {
        "patient": patient, "form": form, "result": result,
        "occurrences": len(result.booked) + len(result.clashes) if result else 0,
    })


@role_required(*DESK_ROLES)
@require_GET
def waitlist(request):
    return render(request, "desk/waitlist.html", {"entries": desk_selectors.waitlist()})


# ---------------------------------------------------------------------------- follow-ups


def _link_followup(request, patient: Patient, appointment: Appointment) -> None:
    """A booking made from the follow-ups list is linked to that follow-up."""
    from apps.followups.models import FollowUp, FollowUpStatus
    from apps.followups.services import book_followup

    followup_id = request.GET.get("followup", "")
    if not followup_id.isdigit():
        return
    followup = FollowUp.objects.filter(pk=followup_id, program__patient=patient,
                                       status=FollowUpStatus.TO_BOOK).select_related("program").first()
    if followup is not None:
        book_followup(followup=followup, appointment=appointment)


@role_required(*DESK_ROLES)
def followups(request):
    """Re-assessments to book; those still unbooked a week after their due date are flagged."""
    from apps.followups.models import FollowUp

    rows = FollowUp.objects.to_book().select_related("program__patient").order_by("due_date", "id")
    return render(request, "desk/followups.html", {"followups": rows})
