"""Reads for scheduling: free slots, and the rota checks the booking service relies on.

Each selector runs a fixed number of queries whatever the number of therapists,
appointments or days; the slot arithmetic itself is in ``slots.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from apps.ops.policy import clinic_policy
from apps.scheduling import slots as slot_math
from apps.scheduling.models import Appointment, AppointmentKind, Therapist, TimeOff, WorkingHours
from hipclinic.zones import clinic_zone, local_day_bounds, local_to_utc

# A working block lies within one local day: 25 hours at most, on the day clocks go back.
MAX_BLOCK_LENGTH = timedelta(hours=25)


@dataclass(frozen=True, slots=True)
class Slot:
    therapist_id: int
    therapist_name: str
    kind: str  # the kind's slug
    start: datetime  # aware, UTC
    end: datetime


def search_window(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """The UTC instants a search from ``start`` to ``end`` covers.

    A date means the whole local day in the clinic's zone (an end date is included); a
    datetime is that instant (naive ones are read as clinic wall-clock time).
    """
    zone = clinic_zone()
    window_start = _aware(start, zone) if isinstance(start, datetime) else local_day_bounds(start, zone)[0]
    window_end = _aware(end, zone) if isinstance(end, datetime) else local_day_bounds(end, zone)[1]
    return window_start, window_end


def free_slots(
    *,
    kind: AppointmentKind,
    start_date: date | datetime,
    end_date: date | datetime,
    therapist: Therapist | None = None,
    now: datetime | None = None,
) -> list[Slot]:
    """Free slots of ``kind`` for one active therapist or all of them, sorted by start then therapist.

    ``start_date``/``end_date`` are dates (whole clinic days, both included) or aware
    datetimes (a slot starts at or after the first and ends by the second). Slots
    starting before ``now`` are left out. Three queries: working hours with their
    therapists, active appointments in the window, time off in the window.
    """
    zone = clinic_zone()
    now = now or timezone.now()
    window_start, window_end = search_window(start_date, end_date)
    if window_end <= window_start:
        return []

    hours = WorkingHours.objects.filter(therapist__is_active=True).select_related("therapist")
    if therapist is not None:
        hours = hours.filter(therapist=therapist)
    weekly: dict[int, list[slot_math.WeeklyBlock]] = {}
    names: dict[int, str] = {}
    for row in hours.order_by():
        weekly.setdefault(row.therapist_id, []).append(slot_math.WeeklyBlock(row.weekday, row.start_time, row.end_time))
        names[row.therapist_id] = row.therapist.display_name
    if not weekly:
        return []

    busy: dict[int, list[slot_math.Interval]] = {therapist_id: [] for therapist_id in weekly}
    appointments = (
        Appointment.objects.active()
        .overlapping(window_start, window_end)
        .filter(therapist_id__in=list(weekly))
        .order_by()
        .values_list("therapist_id", "start", "end")
    )
    time_off = (
        TimeOff.objects.filter(therapist_id__in=list(weekly), start__lt=window_end, end__gt=window_start)
        .order_by()
        .values_list("therapist_id", "start", "end")
    )
    for therapist_id, start, end in [*appointments, *time_off]:
        busy[therapist_id].append((start, end))

    # Working blocks of the local days the window touches, a day either side for safety.
    first_day = window_start.astimezone(zone).date() - timedelta(days=1)
    last_day = window_end.astimezone(zone).date() + timedelta(days=1)
    step = timedelta(minutes=clinic_policy().slot_step_minutes)
    found = []
    for therapist_id, weekly_blocks in weekly.items():
        blocks = slot_math.working_blocks(weekly=weekly_blocks, first_day=first_day, last_day=last_day, zone=zone)
        for start, end in slot_math.free_slots(
            blocks=blocks,
            busy=busy[therapist_id],
            duration=kind.duration,
            step=step,
            not_before=max(now, window_start),
            not_after=window_end,
        ):
            found.append(Slot(therapist_id, names[therapist_id], kind.slug, start, end))
    found.sort(key=lambda slot: (slot.start, slot.therapist_name, slot.therapist_id))
    return found


def working_hours_cover(*, therapist: Therapist, start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` lies inside one of the therapist's working blocks (one query)."""
    if end <= start:
        return False
    if end - start > MAX_BLOCK_LENGTH:
        # No block is longer than a day, and without this a booking ending years after its
        # start built every working day in between (seconds of work for one request).
        return False
    zone = clinic_zone()
    weekly = [
        slot_math.WeeklyBlock(row.weekday, row.start_time, row.end_time)
        for row in WorkingHours.objects.filter(therapist=therapist).order_by()
    ]
    blocks = slot_math.working_blocks(
        weekly=weekly,
        first_day=start.astimezone(zone).date() - timedelta(days=1),
        last_day=end.astimezone(zone).date() + timedelta(days=1),
        zone=zone,
    )
    return slot_math.covers(blocks, start, end)


def time_off_clash(*, therapist: Therapist, start: datetime, end: datetime) -> bool:
    """Whether any of the therapist's time off overlaps ``[start, end)`` (half-open; one query)."""
    return TimeOff.objects.filter(therapist=therapist, start__lt=end, end__gt=start).exists()


def therapists():
    """Therapists with their working hours, for lists (two queries whatever the row count)."""
    return Therapist.objects.prefetch_related("working_hours").order_by("display_name", "id")


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    if timezone.is_naive(value):
        return local_to_utc(value.date(), value.time(), zone)
    return value.astimezone(UTC)
