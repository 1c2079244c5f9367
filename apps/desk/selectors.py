"""Reads for the desk pages: the day's schedule, a patient's page, the waitlist.

Each runs a fixed number of queries whatever the number of rows, and loads no clinical
content: a patient's red-flag state arrives as one boolean (``red_flag_alert``), never
the screen's items or the referral's reason, and the plan-of-care clock as a booking hint
(``booking_hint``, e.g. "Progress report due at this visit: book 45 minutes."), never the
plan, its diagnoses or its notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.patients.models import Patient, Referral
from apps.patients.selectors import open_red_flag, with_red_flag_alert
from apps.scheduling.models import Appointment, Therapist, WaitlistEntry, WaitlistStatus, WorkingHours
from apps.visits.selectors import visit_hints, with_open_plan
from hipclinic.zones import clinic_zone, local_day_bounds

# Only what the front desk may see of a referral.
REFERRAL_DESK_FIELDS = ("id", "patient_id", "cause", "cause_other", "referring_clinician", "referral_date")


def appointments_for_desk() -> QuerySet:
    """Appointments with what a desk row shows: patient, therapist, kind, the red-flag alert and
    whether the patient is on a plan of care (``open_plan_id``, for the booking hint)."""
    return with_open_plan(Appointment.objects.select_related("patient", "therapist", "kind").annotate(
        red_flag_alert=open_red_flag("patient_id")
    ))


def _with_booking_hints(appointments: list[Appointment]) -> None:
    """Set each appointment's ``booking_hint`` ("" for most): no query unless a patient is on a plan."""
    hints = visit_hints(appointments)
    for appointment in appointments:
        appointment.booking_hint = hints.get(appointment.pk, "")


@dataclass
class TherapistDay:
    therapist: Therapist
    hours: list[WorkingHours] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)


def day_schedule(*, day: date) -> list[TherapistDay]:
    """Every active therapist (and any inactive one with appointments) with the day's appointments.

    Three queries: the appointments of the local day, the active therapists, and their
    working hours on that weekday; when a patient of the day is on a plan of care, up to
    four more for the booking hints (the policy, the plans, their visits and reports).
    """
    start, end = local_day_bounds(day, clinic_zone())
    # A row shows the patient's name and record number: not their phone (parsed on load) or notes.
    appointments = list(appointments_for_desk().filter(start__gte=start, start__lt=end)
                        .defer("patient__phone", "patient__notes").order_by("start", "id"))
    _with_booking_hints(appointments)
    therapists = Therapist.objects.filter(is_active=True).prefetch_related(
        Prefetch("working_hours", queryset=WorkingHours.objects.filter(weekday=day.weekday()).order_by("start_time"))
    )
    columns = {therapist.pk: TherapistDay(therapist, list(therapist.working_hours.all())) for therapist in therapists}
    for appointment in appointments:
        column = columns.get(appointment.therapist_id)
        if column is None:  # inactive now, but still has appointments that day
            column = columns[appointment.therapist_id] = TherapistDay(appointment.therapist)
        column.appointments.append(appointment)
    return sorted(columns.values(), key=lambda column: (column.therapist.display_name, column.therapist.pk))


def patient_for_desk(*, patient_id: int) -> Patient:
    """One patient with the red-flag alert and the desk's view of their referrals (two queries)."""
    referrals = Referral.objects.only(*REFERRAL_DESK_FIELDS).order_by("-referral_date", "-id")
    patients = with_red_flag_alert(Patient.objects.all()).prefetch_related(
        Prefetch("referrals", queryset=referrals, to_attr="desk_referrals")
    )
    return patients.get(pk=patient_id)


def patient_appointments(*, patient: Patient, hints: bool = False) -> tuple[list[Appointment], list[Appointment]]:
    """The patient's upcoming and past appointments, soonest and latest first (one query).

    With ``hints``, the upcoming ones get their ``booking_hint`` (up to four more queries when
    the patient is on a plan of care).
    """
    now = timezone.now()
    rows = list(
        with_open_plan(Appointment.objects.filter(patient=patient)).select_related("therapist", "kind")
        .order_by("start", "id")
    )
    for row in rows:
        row.patient = patient  # the page shows their name on every row: no query per row
    upcoming = [row for row in rows if row.end > now]
    past = [row for row in rows if row.end <= now][::-1]
    if hints:
        _with_booking_hints(upcoming)
    return upcoming, past


def waitlist(*, status: str = WaitlistStatus.WAITING) -> QuerySet:
    return (
        WaitlistEntry.objects.filter(status=status)
        .select_related("patient", "kind", "therapist", "current_appointment")
        .annotate(red_flag_alert=open_red_flag("patient_id"))
        .order_by("created_at", "id")
    )
