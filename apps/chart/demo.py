"""Today in the demo clinic: a working day on every page, whenever ``make run`` starts.

Called by ``seed_demo`` after every app's own demo data; idempotent: a patient of today's
list who already has an appointment today is left alone, so a second run adds nothing and
each new day of a demo gets its own list. Appointments already over are completed (the
first, an initial assessment, with its assessment), the one under way or about to start is
checked in, the rest are booked.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.assessments.models import Assessment
from apps.assessments.services import record_assessment
from apps.ops.models import ClinicPolicy
from apps.ops.policy import clinic_policy
from apps.ops.services import update_clinic_policy
from apps.patients.models import Patient, Referral
from apps.patients.services import register_patient
from apps.scheduling import services as scheduling
from apps.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, Therapist
from hipclinic.zones import clinic_today, clinic_zone, local_day_bounds, local_to_utc

# Two more patients who come for the first time today.
NEW_TODAY = [
    ("Hana", "Ito", date(1958, 2, 9), "hip_osteoarthritis"),
    ("Sam", "Okafor", date(1995, 7, 22), "prolonged_sitting"),
]

# (local time, kind, patient e-mail prefix): the day's list, the first an initial assessment.
TODAY = [
    (time(9, 0), "initial_assessment", "rafael.fonseca"),
    (time(10, 0), "follow_up", "olive.ashworth"),
    (time(11, 30), "initial_assessment", "hana.ito"),
    (time(14, 0), "reassessment", "gwen.harper"),
    (time(15, 0), "follow_up", "cai.brennan"),
    (time(16, 0), "initial_assessment", "sam.okafor"),
]
EARLY_ARRIVAL = timedelta(minutes=30)  # a patient this close to their time is in the waiting room

DEMO_POLICY = {"clinic_name": "Riverside Hip Clinic", "address": "1 River Road\nKingston KT1 1AA",
               "phone": "020 7946 0000",
               "email_closing": "Open every day, 08:30-17:00. Can't come? Call us to move your appointment."}


@transaction.atomic
def seed(*, password: str) -> None:
    _name_the_clinic()
    desk = User.objects.get(username="frontdesk")
    today = clinic_today()
    working = _working_today(today)
    if not working:
        return
    patients = _patients(desk)
    day_start, day_end = local_day_bounds(today, clinic_zone())
    seen_today = set(Appointment.objects.active().filter(patient__in=patients.values(), start__gte=day_start,
                                                         start__lt=day_end).values_list("patient_id", flat=True))
    kinds = {kind.slug: kind for kind in AppointmentKind.objects.all()}
    now = timezone.now()
    for n, (wall, slug, prefix) in enumerate(TODAY):
        if patients[prefix].pk in seen_today:
            continue  # seeded already today (or the week's diary has them today)
        therapist = working[n % len(working)]
        begins = local_to_utc(today, wall, clinic_zone())
        appointment = _appointment(patients[prefix], therapist, kinds[slug], begins, desk, now)
        if appointment is None:
            continue
        if appointment.end <= now:
            scheduling.check_in(appointment=appointment, changed_by=desk)
            scheduling.complete_appointment(appointment=appointment, changed_by=therapist.user)
            if n == 0:
                _assess(appointment, therapist.user, today)
        elif appointment.start - EARLY_ARRIVAL <= now:
            scheduling.check_in(appointment=appointment, changed_by=desk)


def _name_the_clinic() -> None:
    policy = clinic_policy()
    if policy.clinic_name == ClinicPolicy._meta.get_field("clinic_name").default:
        for name, value in DEMO_POLICY.items():
            setattr(policy, name, value)
        update_clinic_policy(policy=policy, changed_by=None, reason="demo clinic")


def _working_today(today: date) -> list[Therapist]:
    return list(Therapist.objects.filter(is_active=True, working_hours__weekday=today.weekday())
                .select_related("user").distinct().order_by("display_name"))


def _patients(desk: User) -> dict[str, Patient]:
    for first, last, born, cause in NEW_TODAY:
        email = f"{first.lower()}.{last.lower()}@demo.hipclinic.invalid"
        if not Patient.objects.filter(email=email).exists():
            register_patient(
                patient=Patient(first_name=first, last_name=last, date_of_birth=born, email=email,
                                email_consent=True, phone="+442079460099"),
                referral=Referral(cause=cause, referring_clinician="Dr Demo, Riverside Practice",
                                  reason="Demo referral"),
                registered_by=desk)
    prefixes = {prefix for _wall, _slug, prefix in TODAY}
    return {patient.email.split("@")[0]: patient for patient in Patient.objects.filter(
        email__in=[f"{prefix}@demo.hipclinic.invalid" for prefix in prefixes])}


def _appointment(patient, therapist, kind, start, desk, now) -> Appointment | None:
    if start > now:
        try:
            return scheduling.book_appointment(patient=patient, therapist=therapist, kind=kind, start=start,
                                               booked_by=desk, notify=False)
        except ValidationError:
            return None  # outside this therapist's hours or clashing with the week's demo diary
    # Earlier today: history, written as it happened (the booking service refuses the past).
    return Appointment.objects.create(patient=patient, therapist=therapist, kind=kind, start=start,
                                      end=start + kind.duration, status=AppointmentStatus.BOOKED, booked_by=desk)


def _assess(appointment: Appointment, therapist: User, today: date) -> None:
    if Assessment.objects.filter(appointment=appointment).exists():
        return
    record_assessment(
        assessment=Assessment(patient=appointment.patient, therapist=therapist, appointment=appointment,
                              assessed_on=today, pain_now=4, pain_worst_week=6, complaints=["hip_pain", "stairs"]),
        sides=[{"side": "left", "mmt_grade": "4-", "pain_on_resisted_flexion": True, "knee_hold_seconds": 7},
               {"side": "right", "mmt_grade": "4+", "pain_on_resisted_flexion": True, "knee_hold_seconds": 12}],
        recorded_by=therapist)
