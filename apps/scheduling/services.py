"""Writes to the schedule. Desk pages, admin, API and tasks all book through here.

Each function validates the meaning of the change (working hours, overlaps, the past,
status rules), writes in one transaction, and queues the e-mails in that same
transaction (the outbox), so a booking and its confirmation stand or fall together.
The database has the last word on overlaps (exclusion constraints on PostgreSQL); a
violation it catches is reported with the same message as the service's own check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.patients.models import Patient
from apps.scheduling import selectors, signals
from apps.scheduling.models import (
    SERIES_MAX_INTERVAL_WEEKS,
    SERIES_MAX_OCCURRENCES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentStatusChange,
    RecurringSeries,
    Therapist,
    TimeOff,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
    WorkingHours,
)

OVERLAP_CONSTRAINTS = {"appointment_therapist_no_overlap", "appointment_patient_no_overlap"}
# PostgreSQL's answer when concurrent inserts wait on each other's conflicting
# exclusion-constraint entries: one of them is chosen as the deadlock victim.
DEADLOCK_DETECTED = "40P01"
WAITLIST_OFFER_SALT = "hipclinic.waitlist-offer"
MAX_OFFERS_PER_SLOT = 5


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%a %d %b %H:%M")


def _overlap_message(therapist: Therapist, clash: Appointment | None, *, patient_side: bool) -> str:
    if patient_side:
        when = f" ({_local(clash.start)}-{timezone.localtime(clash.end):%H:%M})" if clash else ""
        return f"The patient already has an appointment at this time{when}."
    when = f" from {_local(clash.start)} to {timezone.localtime(clash.end):%H:%M}" if clash else " at this time"
    return f"{therapist} already has an appointment{when}."


def booking_problems(
    *,
    patient: Patient,
    therapist: Therapist,
    kind: AppointmentKind,
    start: datetime,
    end: datetime,
    booked_by: User,
    overlap_reason: str = "",
    ignore: Appointment | None = None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Every reason this booking cannot be made, by field; empty when it can."""
    now = now or timezone.now()
    problems: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        problems.setdefault(field_name, []).append(message)

    if timezone.is_naive(start) or timezone.is_naive(end):
        add("start", "Give the time with its time zone offset.")
        return problems
    if end <= start:
        add("end", "The end must be after the start.")
        return problems
    if start < now:
        add("start", "This time has already passed.")
    if patient.is_archived:
        add("patient", "This patient is archived: restore the record before booking.")
    if not therapist.is_active:
        add("therapist", f"{therapist} is not taking bookings.")
    if not kind.is_active:
        add("kind", f"{kind} appointments are no longer booked.")
    if problems:
        return problems
    if not selectors.working_hours_cover(therapist=therapist, start=start, end=end):
        add("start", f"This is outside {therapist}'s working hours.")
    if selectors.time_off_clash(therapist=therapist, start=start, end=end):
        add("start", f"{therapist} is off at this time.")
    if overlap_reason:
        if not booked_by.has_role(Role.CLINIC_MANAGER):
            add("overlap_reason", "Only a clinic manager may book a deliberate overlap.")
        return problems
    active = Appointment.objects.active().overlapping(start, end).exclude(overlap_reason__gt="")
    if ignore is not None:
        active = active.exclude(pk=ignore.pk)
    therapist_clash = active.filter(therapist=therapist).first()
    if therapist_clash:
        add("start", _overlap_message(therapist, therapist_clash, patient_side=False))
    patient_clash = active.filter(patient=patient).first()
    if patient_clash:
        add("start", _overlap_message(therapist, patient_clash, patient_side=True))
    return problems


def _save_guarded(appointment: Appointment, *, fields: list[str] | None = None) -> None:
    """Save inside a savepoint; an exclusion-constraint violation becomes a field error."""
    try:
        with transaction.atomic():
            if fields:
                appointment.save(update_fields=fields)
            else:
                appointment.save()
    except IntegrityError as error:
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)
        if constraint in OVERLAP_CONSTRAINTS:
            raise ValidationError(
                {"start": _overlap_message(appointment.therapist, None,
                                           patient_side=constraint == "appointment_patient_no_overlap")}
            ) from None
        raise
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED:
            raise ValidationError(
                {"start": "Another booking took this time a moment ago. Choose another time."}
            ) from None
        raise


def book_appointment(
    *,
    patient: Patient,
    therapist: Therapist,
    kind: AppointmentKind,
    start: datetime,
    booked_by: User,
    end: datetime | None = None,
    overlap_reason: str = "",
    series: RecurringSeries | None = None,
    notify: bool = True,
) -> Appointment:
    """Book one appointment; refuses overlaps, hours outside the rota, time off and the past."""
    end = end or start + kind.duration
    overlap_reason = overlap_reason.strip()
    problems = booking_problems(
        patient=patient, therapist=therapist, kind=kind, start=start, end=end,
        booked_by=booked_by, overlap_reason=overlap_reason,
    )
    if problems:
        raise ValidationError(problems)
    appointment = Appointment(
        patient=patient, therapist=therapist, kind=kind, start=start, end=end,
        overlap_reason=overlap_reason, series=series, booked_by=booked_by,
    )
    with transaction.atomic():
        _save_guarded(appointment)
        AppointmentStatusChange.objects.create(
            appointment=appointment, from_status="", to_status=AppointmentStatus.BOOKED,
            changed_by=booked_by, reason=overlap_reason,
        )
        if notify:
            from apps.scheduling import emails

            emails.queue_booking_confirmation(appointment)
        signals.appointment_booked.send(sender=Appointment, appointment=appointment)
    return appointment


def reschedule_appointment(
    *,
    appointment: Appointment,
    start: datetime,
    changed_by: User,
    therapist: Therapist | None = None,
    end: datetime | None = None,
    overlap_reason: str | None = None,
) -> Appointment:
    """Move a booked appointment to another time (and perhaps therapist); the patient is told."""
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().select_related(
            "patient", "therapist", "kind"
        ).get(pk=appointment.pk)
        if appointment.status != AppointmentStatus.BOOKED:
            raise ValidationError(
                {"status": f"A {appointment.get_status_display().lower()} appointment cannot be moved."}
            )
        therapist = therapist or appointment.therapist
        end = end or start + appointment.kind.duration
        reason = appointment.overlap_reason if overlap_reason is None else overlap_reason.strip()
        problems = booking_problems(
            patient=appointment.patient, therapist=therapist, kind=appointment.kind, start=start, end=end,
            booked_by=changed_by, overlap_reason=reason, ignore=appointment,
        )
        if problems:
            raise ValidationError(problems)
        previous_start = appointment.start
        freed = (appointment.therapist, appointment.start, appointment.end)
        appointment.therapist, appointment.start, appointment.end = therapist, start, end
        appointment.overlap_reason = reason
        appointment._change_reason = "rescheduled"
        _save_guarded(appointment, fields=["therapist", "start", "end", "overlap_reason", "updated_at"])
        from apps.scheduling import emails

        emails.queue_reschedule_notice(appointment, previous_start=previous_start)
        offer_freed_slot(appointment=appointment, therapist=freed[0], start=freed[1], end=freed[2])
        signals.appointment_rescheduled.send(sender=Appointment, appointment=appointment, previous_start=previous_start)
    return appointment


def _change_status(*, appointment: Appointment, to_status: str, changed_by: User, reason: str = "") -> Appointment:
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().select_related(
            "patient", "therapist", "kind"
        ).get(pk=appointment.pk)
        if not appointment.can_move_to(to_status):
            raise ValidationError(
                {"status": f"A {appointment.get_status_display().lower()} appointment cannot become "
                           f"{AppointmentStatus(to_status).label.lower()}."}
            )
        previous = appointment.status
        appointment.status = to_status
        appointment._change_reason = reason[:100]  # the history column's width; the full reason is below
        appointment.save(update_fields=["status", "updated_at"])
        AppointmentStatusChange.objects.create(
            appointment=appointment, from_status=previous, to_status=to_status, changed_by=changed_by, reason=reason
        )
    return appointment


def cancel_appointment(
    *, appointment: Appointment, cancelled_by: User, reason: str, notify: bool = True
) -> Appointment:
    """Cancel with a reason; the patient is told and waitlisted patients are offered the slot."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the appointment is cancelled."})
    with transaction.atomic():
        appointment = _change_status(
            appointment=appointment, to_status=AppointmentStatus.CANCELLED, changed_by=cancelled_by, reason=reason
        )
        if notify:
            from apps.scheduling import emails

            emails.queue_cancellation_notice(appointment)
        offer_freed_slot(
            appointment=appointment, therapist=appointment.therapist, start=appointment.start, end=appointment.end
        )
        signals.appointment_cancelled.send(sender=Appointment, appointment=appointment)
    return appointment


def check_in(*, appointment: Appointment, changed_by: User) -> Appointment:
    """Mark the patient as arrived; only on the appointment's own day."""
    if timezone.localdate() != timezone.localtime(appointment.start).date():
        raise ValidationError({"status": "Patients can only be checked in on the day of their appointment."})
    return _change_status(appointment=appointment, to_status=AppointmentStatus.CHECKED_IN, changed_by=changed_by)


def mark_no_show(*, appointment: Appointment, changed_by: User, reason: str = "") -> Appointment:
    """Record that the patient did not come; only once the appointment has started."""
    if timezone.now() < appointment.start:
        raise ValidationError({"status": "An appointment can only be marked as a no-show once it has started."})
    return _change_status(
        appointment=appointment, to_status=AppointmentStatus.NO_SHOW, changed_by=changed_by, reason=reason
    )


def complete_appointment(*, appointment: Appointment, changed_by: User) -> Appointment:
    return _change_status(appointment=appointment, to_status=AppointmentStatus.COMPLETED, changed_by=changed_by)


# ---------------------------------------------------------------------------- series


@dataclass
class Clash:
    start: datetime
    problems: dict[str, list[str]]

    @property
    def message(self) -> str:
        return " ".join(message for messages in self.problems.values() for message in messages)


@dataclass
class SeriesResult:
    series: RecurringSeries | None
    booked: list[Appointment] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)


def series_starts(first_start: datetime, *, occurrences: int, interval_weeks: int) -> list[datetime]:
    """Same wall-clock time each week in the clinic's zone, across daylight-saving changes."""
    local = timezone.localtime(first_start)
    return [
        timezone.make_aware(local.replace(tzinfo=None) + timedelta(weeks=interval_weeks * n), local.tzinfo)
        for n in range(occurrences)
    ]


def book_series(
    *,
    patient: Patient,
    therapist: Therapist,
    kind: AppointmentKind,
    first_start: datetime,
    occurrences: int,
    booked_by: User,
    interval_weeks: int = 1,
) -> SeriesResult:
    """Book one appointment per occurrence; those that clash are reported, the rest booked."""
    if not 1 <= occurrences <= SERIES_MAX_OCCURRENCES:
        raise ValidationError({"occurrences": f"Book between 1 and {SERIES_MAX_OCCURRENCES} occurrences."})
    if not 1 <= interval_weeks <= SERIES_MAX_INTERVAL_WEEKS:
        raise ValidationError({"interval_weeks": f"Repeat every 1 to {SERIES_MAX_INTERVAL_WEEKS} weeks."})
    result = SeriesResult(series=None)
    with transaction.atomic():
        series = RecurringSeries.objects.create(
            patient=patient, therapist=therapist, kind=kind, first_start=first_start,
            interval_weeks=interval_weeks, occurrences=occurrences, created_by=booked_by,
        )
        for start in series_starts(first_start, occurrences=occurrences, interval_weeks=interval_weeks):
            try:
                result.booked.append(
                    book_appointment(patient=patient, therapist=therapist, kind=kind, start=start,
                                     booked_by=booked_by, series=series)
                )
            except ValidationError as error:
                result.clashes.append(Clash(start=start, problems=error.message_dict))
        if not result.booked:
            transaction.set_rollback(True)
            return result
    result.series = series
    return result


# ---------------------------------------------------------------------------- waitlist


class OfferGone(Exception):
    """The offered slot was taken by someone else, or the offer is no longer open."""


def add_to_waitlist(
    *,
    patient: Patient,
    kind: AppointmentKind,
    earliest,
    latest,
    created_by: User,
    therapist: Therapist | None = None,
    current_appointment: Appointment | None = None,
    note: str = "",
) -> WaitlistEntry:
    entry = WaitlistEntry(
        patient=patient, kind=kind, earliest=earliest, latest=latest, therapist=therapist,
        current_appointment=current_appointment, note=note, created_by=created_by,
    )
    problems = {}
    if patient.is_archived:
        problems["patient"] = "This patient is archived."
    if earliest and latest and latest < earliest:
        problems["latest"] = "The last day must not be before the first."
    if latest and latest < timezone.localdate():
        problems["latest"] = "This window has already passed."
    if current_appointment is not None and current_appointment.patient_id != patient.pk:
        problems["current_appointment"] = "That appointment belongs to another patient."
    if problems:
        raise ValidationError(problems)
    entry.save()
    return entry


def offer_url(offer: WaitlistOffer) -> str:
    from django.urls import reverse

    token = signing.dumps({"offer": offer.pk}, salt=WAITLIST_OFFER_SALT)
    return settings.SITE_URL + reverse("scheduling:waitlist-offer", kwargs={"token": token})


def offer_from_token(token: str) -> WaitlistOffer | None:
    """The offer a signed link names, or None for a tampered or expired link."""
    try:
        data = signing.loads(token, salt=WAITLIST_OFFER_SALT, max_age=timedelta(days=14))
    except signing.BadSignature:
        return None
    return WaitlistOffer.objects.select_related("entry__patient", "therapist", "entry__kind").filter(
        pk=data.get("offer")
    ).first()


def offer_freed_slot(*, appointment: Appointment, therapist: Therapist, start: datetime, end: datetime) -> int:
    """Offer a slot that has just been freed to the waitlisted patients it suits; returns how many."""
    if start <= timezone.now():
        return 0
    local_day = timezone.localtime(start).date()
    entries = (
        WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, kind=appointment.kind,
                                     earliest__lte=local_day, latest__gte=local_day)
        .exclude(patient=appointment.patient)
        .filter(patient__archived_at__isnull=True)
        .select_related("patient", "current_appointment", "kind")
        .order_by("created_at", "id")
    )
    entries = entries.filter(therapist__isnull=True) | entries.filter(therapist=therapist)
    offered = 0
    from apps.scheduling import emails

    for entry in entries:
        current = entry.current_appointment
        if current is not None and (not current.is_active or current.start <= start):
            continue  # they only want something earlier than what they hold
        if not entry.patient.can_receive_email:
            continue
        offer, created = WaitlistOffer.objects.get_or_create(
            entry=entry, freed_appointment=appointment, defaults={"therapist": therapist, "start": start, "end": end}
        )
        if created:
            emails.queue_waitlist_offer(offer, accept_url=offer_url(offer))
            offered += 1
        if offered >= MAX_OFFERS_PER_SLOT:
            break
    return offered


def accept_waitlist_offer(*, offer: WaitlistOffer) -> Appointment:
    """First to accept gets the slot; everyone else's offer for it is marked gone."""
    with transaction.atomic():
        # Lock the freed appointment: every acceptance of this slot queues behind it.
        Appointment.objects.select_for_update().filter(pk=offer.freed_appointment_id).first()
        offer = WaitlistOffer.objects.select_for_update(of=("self",)).select_related(
            "entry__patient", "entry__current_appointment", "entry__kind", "entry__created_by", "therapist"
        ).get(pk=offer.pk)
        if offer.status != WaitlistOffer.Status.OPEN or offer.start <= timezone.now():
            raise OfferGone
        entry = offer.entry
        try:
            with transaction.atomic():
                current = entry.current_appointment
                if current is not None and current.status == AppointmentStatus.BOOKED:
                    appointment = reschedule_appointment(
                        appointment=current, start=offer.start, end=offer.end, therapist=offer.therapist,
                        changed_by=entry.created_by,
                    )
                else:
                    appointment = book_appointment(
                        patient=entry.patient, therapist=offer.therapist, kind=entry.kind, start=offer.start,
                        end=offer.end, booked_by=entry.created_by,
                    )
        except ValidationError:
            offer.status, offer.answered_at = WaitlistOffer.Status.GONE, timezone.now()
            offer.save(update_fields=["status", "answered_at"])
            raise OfferGone from None
        now = timezone.now()
        offer.status, offer.answered_at, offer.booked_appointment = WaitlistOffer.Status.ACCEPTED, now, appointment
        offer.save(update_fields=["status", "answered_at", "booked_appointment"])
        WaitlistOffer.objects.filter(freed_appointment=offer.freed_appointment_id, status=WaitlistOffer.Status.OPEN
                                     ).exclude(pk=offer.pk).update(status=WaitlistOffer.Status.GONE, answered_at=now)
        entry.status = WaitlistStatus.BOOKED
        entry.save(update_fields=["status"])
    return appointment


# ---------------------------------------------------------------------------- the rota and reference data


def save_therapist(*, therapist: Therapist, hours: list[WorkingHours] | None, by: User) -> Therapist:
    """Add or change a therapist and (when given) replace their weekly hours, all or nothing.

    Blocks of one weekday may not overlap (a slot would be offered twice). Appointments
    already booked are kept when hours change: the desk sees them on the day page.
    """
    problems: dict[str, list[str]] = {}
    try:
        therapist.full_clean()
    except ValidationError as error:
        problems.update(error.message_dict)
    if hours is not None and (overlaps := hours_overlaps(hours)):
        problems["working_hours"] = overlaps
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        therapist.save()
        if hours is not None:
            kept = []
            for block in hours:
                block.therapist = therapist
                block.full_clean()
                block.save()
                kept.append(block.pk)
            therapist.working_hours.exclude(pk__in=kept).delete()
    return therapist


def hours_overlaps(hours: list[WorkingHours]) -> list[str]:
    """Blocks of one weekday that overlap, in words; empty when none do."""
    by_day: dict[int, list[WorkingHours]] = {}
    for block in hours:
        by_day.setdefault(block.weekday, []).append(block)
    found = []
    for _day, blocks in sorted(by_day.items()):
        blocks.sort(key=lambda block: block.start_time)
        for earlier, later in pairwise(blocks):
            if later.start_time < earlier.end_time:
                found.append(f"{earlier} and {later} overlap.")
    return found


def save_time_off(*, time_off: TimeOff, by: User) -> TimeOff:
    """Record time off (no booking is offered then); appointments already in it stay for the desk to move."""
    time_off.full_clean()
    time_off.save()
    return time_off


def save_appointment_kind(*, kind: AppointmentKind, by: User) -> AppointmentKind:
    """Change a kind's name, default length or whether it is still booked (its slug stays: integrations use it)."""
    kind.full_clean()
    kind.save()
    return kind


def withdraw_from_waitlist(*, entry: WaitlistEntry, by: User) -> WaitlistEntry:
    """Take a waiting patient off the waitlist: no more offers are sent to them."""
    if entry.status != WaitlistStatus.WAITING:
        raise ValidationError({"status": "Only a waiting entry can be withdrawn."})
    entry.status = WaitlistStatus.WITHDRAWN
    entry.save(update_fields=["status"])
    return entry
