"""The scheduling part of the demo clinic (called by ``seed_demo``; idempotent)."""

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.patients.models import Patient, Referral, ReferralCause
from apps.scheduling import services
from apps.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentStatusChange,
    Therapist,
    WaitlistEntry,
    WorkingHours,
)

DEMO_PATIENTS = [
    # first, last, born, cause, extra referral fields
    ("Olive", "Ashworth", date(1954, 4, 2), ReferralCause.HIP_OSTEOARTHRITIS, {}),
    ("Cai", "Brennan", date(2009, 9, 17), ReferralCause.CEREBRAL_PALSY, {}),
    ("Priya", "Chandra", date(1971, 1, 30), ReferralCause.TRANSPSOAS_SURGERY, {"surgery_days_ago": 20}),
    ("Tom", "Delaney", date(1988, 6, 11), ReferralCause.LACK_OF_EXERCISE, {}),
    ("Mina", "Evans", date(1992, 11, 5), ReferralCause.PROLONGED_SITTING, {}),
    ("Rafael", "Fonseca", date(1966, 3, 21), ReferralCause.OTHER, {"cause_other": "Hip pain after a long hike"}),
    ("Gwen", "Harper", date(1949, 8, 14), ReferralCause.HIP_OSTEOARTHRITIS,
     {"red_flags": ["weight_loss", "constant_night_pain"]}),
]


def next_weekday(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7 or 7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@transaction.atomic
def seed(*, password: str) -> None:
    therapists = []
    # Theo works Monday to Friday, Tara every day (the demo has a working day whenever it is opened).
    for username, first, last, days in [("therapist", "Theo", "Therapist", range(5)),
                                        ("therapist2", "Tara", "Quinn", range(7))]:
        user, _ = User.objects.get_or_create(username=username, defaults={
            "first_name": first, "last_name": last, "email": f"{username}@demo.hipclinic.invalid"})
        user.set_password(password)
        user.save(update_fields=["password"])
        account_services.set_role(user=user, role=Role.THERAPIST)
        therapist, created = Therapist.objects.get_or_create(user=user, defaults={"display_name": f"{first} {last}"})
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(therapist=therapist, weekday=day, start_time=time(8, 30), end_time=time(17, 0))
                for day in days
            )
        therapists.append(therapist)

    desk = User.objects.get(username="frontdesk")
    patients = []
    for n, (first, last, born, cause, extra) in enumerate(DEMO_PATIENTS):
        patient, created = Patient.objects.get_or_create(
            email=f"{first.lower()}.{last.lower()}@demo.hipclinic.invalid",
            defaults={"first_name": first, "last_name": last, "date_of_birth": born, "sex": "unknown",
                      "phone": f"+4420794600{n:02d}", "email_consent": n != 4},
        )
        if created:
            today = timezone.localdate()
            Referral.objects.create(
                patient=patient, cause=cause, cause_other=extra.get("cause_other", ""),
                referring_clinician="Dr Demo, Riverside Practice", referral_date=today - timedelta(days=7),
                surgery_date=today - timedelta(days=extra["surgery_days_ago"]) if "surgery_days_ago" in extra else None,
                reason="Demo referral", red_flags=extra.get("red_flags", []),
            )
        patients.append(patient)

    if Appointment.objects.filter(patient__in=patients).exists():
        return  # appointments were seeded before; leave the demo diary as it is
    kinds = {kind.slug: kind for kind in AppointmentKind.objects.all()}
    today = timezone.localdate()
    monday, tuesday = next_weekday(today, 0), next_weekday(today, 1)
    theo, tara = therapists

    # Completed assessments last week (history: written directly, the past cannot be booked).
    for patient, therapist, day_offset in [(patients[0], theo, -7), (patients[1], tara, -6)]:
        day = today + timedelta(days=day_offset)
        while day.weekday() > 4:
            day -= timedelta(days=1)
        appointment = Appointment.objects.create(
            patient=patient, therapist=therapist, kind=kinds["initial_assessment"], start=at(day, 9),
            end=at(day, 10), status=AppointmentStatus.COMPLETED, booked_by=desk,
        )
        AppointmentStatusChange.objects.create(appointment=appointment, from_status="checked_in",
                                               to_status=AppointmentStatus.COMPLETED, changed_by=therapist.user)

    services.book_appointment(patient=patients[2], therapist=theo, kind=kinds["initial_assessment"],
                              start=at(monday, 9), booked_by=desk, notify=False)
    services.book_appointment(patient=patients[3], therapist=tara, kind=kinds["initial_assessment"],
                              start=at(monday, 10), booked_by=desk, notify=False)
    later = services.book_appointment(patient=patients[4], therapist=theo, kind=kinds["initial_assessment"],
                                      start=at(tuesday + timedelta(days=7), 14), booked_by=desk, notify=False)
    cancelled = services.book_appointment(patient=patients[5], therapist=tara, kind=kinds["follow_up"],
                                          start=at(tuesday, 11), booked_by=desk, notify=False)
    services.cancel_appointment(appointment=cancelled, cancelled_by=desk, reason="Patient away", notify=False)
    services.book_series(patient=patients[0], therapist=theo, kind=kinds["follow_up"],
                         first_start=at(tuesday, 9), occurrences=6, booked_by=desk)
    WaitlistEntry.objects.create(
        patient=patients[4], kind=kinds["initial_assessment"], therapist=None, current_appointment=later,
        earliest=today, latest=today + timedelta(days=14), note="Can come at short notice", created_by=desk,
    )
