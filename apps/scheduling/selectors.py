"""Reads for scheduling: free slots, and the rota checks the booking service relies on.

Each selector runs a fixed number of queries whatever the number of therapists,
appointments or days; the slot arithmetic itself is in ``slots.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
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
    in_database: bool | None = None,
) -> list[Slot]:
    """Free slots of ``kind`` for one active therapist or all of them, sorted by start then therapist.

    ``start_date``/``end_date`` are dates (whole clinic days, both included) or aware
    datetimes (a slot starts at or after the first and ends by the second). Slots
    starting before ``now`` are left out.

    The working blocks come from the weekly hours here (the zone rules of ``slots.py``);
    the free gaps of each block are working time minus active appointments and time off.
    On PostgreSQL one query computes those gaps with multiranges and returns only them
    (``in_database``, by default wherever the database is PostgreSQL); elsewhere the busy
    intervals are loaded and ``slots.free_gaps`` computes them. Both give the same slots
    (tests/scheduling/test_slots_in_database.py). Queries: working hours with their
    therapists, the clinic's policy (its grid), then the gaps in one query or the
    appointments and time off in two.
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

    # Working blocks of the local days the window touches, a day either side for safety; only
    # those that can hold a slot (ending after the earliest start, starting before the window ends).
    first_day = window_start.astimezone(zone).date() - timedelta(days=1)
    last_day = window_end.astimezone(zone).date() + timedelta(days=1)
    not_before = max(now, window_start)
    # Therapists often share their weekly hours: each distinct rota is turned into blocks once.
    by_rota: dict[tuple[slot_math.WeeklyBlock, ...], list[slot_math.Interval]] = {}
    blocks = {}
    for therapist_id, weekly_blocks in weekly.items():
        rota = tuple(sorted(weekly_blocks, key=lambda block: (block.weekday, block.start, block.end)))
        if rota not in by_rota:
            by_rota[rota] = [
                (start, end)
                for start, end in slot_math.working_blocks(weekly=rota, first_day=first_day, last_day=last_day,
                                                           zone=zone)
                if end > not_before and start < window_end
            ]
        blocks[therapist_id] = by_rota[rota]
    step = timedelta(minutes=clinic_policy().slot_step_minutes)
    if in_database is None:
        in_database = connection.vendor == "postgresql"
    find_gaps = _gaps_in_postgresql if in_database else _gaps_in_python
    gaps = find_gaps(blocks=blocks, window_start=window_start, window_end=window_end)

    found = []
    for therapist_id, therapist_gaps in gaps.items():
        for start, end in slot_math.slots_in_gaps(
            gaps=therapist_gaps, duration=kind.duration, step=step, not_before=not_before
        ):
            found.append(Slot(therapist_id, names[therapist_id], kind.slug, start, end))
    found.sort(key=lambda slot: (slot.start, slot.therapist_name, slot.therapist_id))
    return found


def _busy_rows(*, therapist_ids: list[int], window_start: datetime, window_end: datetime):
    """Querysets of (therapist_id, start, end): active appointments and time off overlapping the window."""
    appointments = (
        Appointment.objects.active()
        .overlapping(window_start, window_end)
        .filter(therapist_id__in=therapist_ids)
        .order_by()
        .values_list("therapist_id", "start", "end")
    )
    time_off = (
        TimeOff.objects.filter(therapist_id__in=therapist_ids, start__lt=window_end, end__gt=window_start)
        .order_by()
        .values_list("therapist_id", "start", "end")
    )
    return appointments, time_off


def _gaps_in_python(
    *, blocks: dict[int, list[slot_math.Interval]], window_start: datetime, window_end: datetime
) -> dict[int, list[slot_math.Gap]]:
    """Load every busy interval in the window (two queries), then ``slots.free_gaps`` per therapist."""
    busy: dict[int, list[slot_math.Interval]] = {therapist_id: [] for therapist_id in blocks}
    appointments, time_off = _busy_rows(therapist_ids=list(blocks), window_start=window_start, window_end=window_end)
    for therapist_id, start, end in [*appointments, *time_off]:
        busy[therapist_id].append((start, end))
    return {
        therapist_id: slot_math.free_gaps(blocks=therapist_blocks, busy=busy[therapist_id], not_after=window_end)
        for therapist_id, therapist_blocks in blocks.items()
    }


# Each block, cut at the window's end, minus its therapist's busy time (active appointments and
# time off merged into one multirange by range_agg): only the free stretches leave the database.
# An empty or reversed busy row is skipped, as slots.merge skips it. Instants cross the wire as
# whole microseconds since the Unix epoch (bigint): exact, and loaded by psycopg's C code, where
# timestamptz values go through Django's Python loader (about 5 us each: a 4-week search for
# 20 therapists would spend more time there than in the query).
GAPS_SQL = """
WITH block AS (
    SELECT b.n, b.therapist_id,
           timestamptz 'epoch' + b.start_us * interval '1 microsecond' AS block_start,
           LEAST(timestamptz 'epoch' + b.end_us * interval '1 microsecond', %s) AS block_end
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) WITH ORDINALITY AS b(therapist_id, start_us, end_us, n)
), busy AS (
    SELECT r.therapist_id, range_agg(tstzrange(r.start, r.end, '[)')) AS taken
    FROM ({busy_rows}) AS r(therapist_id, start, "end")
    WHERE r.end > r.start
    GROUP BY r.therapist_id
)
SELECT block.n, (extract(epoch FROM lower(free)) * 1000000)::bigint, (extract(epoch FROM upper(free)) * 1000000)::bigint
FROM block
LEFT JOIN busy ON busy.therapist_id = block.therapist_id
CROSS JOIN LATERAL unnest(
    tstzmultirange(tstzrange(block.block_start, block.block_end, '[)'))
    - COALESCE(busy.taken, '{{}}'::tstzmultirange)
) AS free
WHERE block.block_end > block.block_start
"""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _gaps_in_postgresql(
    *, blocks: dict[int, list[slot_math.Interval]], window_start: datetime, window_end: datetime
) -> dict[int, list[slot_math.Gap]]:
    """The free gaps of every block from PostgreSQL (one query returning only the gaps)."""
    gaps: dict[int, list[slot_math.Gap]] = {therapist_id: [] for therapist_id in blocks}
    rows = [(therapist_id, start, end) for therapist_id, spans in blocks.items() for start, end in spans]
    if not rows:
        return gaps
    appointments, time_off = _busy_rows(therapist_ids=list(blocks), window_start=window_start, window_end=window_end)
    busy_sql, busy_params = appointments.union(time_off, all=True).query.sql_with_params()
    therapist_ids = [therapist_id for therapist_id, _start, _end in rows]
    starts = [(start - EPOCH) // MICROSECOND for _therapist_id, start, _end in rows]
    ends = [(end - EPOCH) // MICROSECOND for _therapist_id, _start, end in rows]
    with connection.cursor() as cursor:
        cursor.execute(GAPS_SQL.format(busy_rows=busy_sql), [window_end, therapist_ids, starts, ends, *busy_params])
        for n, gap_start, gap_end in cursor.fetchall():
            therapist_id, block_start, _block_end = rows[n - 1]
            gaps[therapist_id].append(
                (block_start, EPOCH + gap_start * MICROSECOND, EPOCH + gap_end * MICROSECOND)
            )
    return gaps


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
