"""Slot arithmetic: weekly working hours to concrete intervals, intervals to free slots.

Pure functions over plain values (no Django): the selectors in ``selectors.py`` load
rows and call these. Every interval is half-open, ``[start, end)``, so an appointment
ending at 10:00 leaves a slot starting at 10:00 free. Every datetime given or returned
is aware; the ones returned are in UTC.

Wall-clock times that a DST change makes odd are read as ``hipclinic.zones.local_to_utc``
reads them, "the first instant at which the clinic's clocks show this time or later":
a block from 01:30 on a spring-forward day in London starts at the jump (02:00 BST), when
the clinic opens its doors; a time the clocks show twice is its first occurrence. A block
therefore lasts the real time between its two ends: 00:00-03:00 on the spring-forward day
is two hours long, on the fall-back day four.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from hipclinic.zones import local_to_utc

Interval = tuple[datetime, datetime]
# A free stretch of a working block: (the block's start, where the grid begins; the gap's start; its end).
Gap = tuple[datetime, datetime, datetime]


@dataclass(frozen=True, slots=True)
class WeeklyBlock:
    """A weekly block of working time: weekday 0 is Monday, times are local wall-clock times."""

    weekday: int
    start: time
    end: time


def working_blocks(*, weekly: Iterable[WeeklyBlock], first_day: date, last_day: date, zone: tzinfo) -> list[Interval]:
    """Concrete UTC intervals of ``weekly`` hours for every local day from first_day to last_day inclusive."""
    by_weekday: dict[int, list[WeeklyBlock]] = {}
    for block in weekly:
        by_weekday.setdefault(block.weekday, []).append(block)
    intervals = []
    day = first_day
    while day <= last_day:
        for block in by_weekday.get(day.weekday(), ()):
            start, end = local_to_utc(day, block.start, zone), local_to_utc(day, block.end, zone)
            if end > start:  # a block lying wholly inside a skipped hour has no time in it
                intervals.append((start, end))
        day += timedelta(days=1)
    intervals.sort()
    return intervals


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time (touching ones joined)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def free_slots(
    *,
    blocks: Iterable[Interval],
    busy: Iterable[Interval],
    duration: timedelta,
    step: timedelta,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> list[Interval]:
    """Slots of ``duration`` inside one block each, clear of ``busy``, starting on a ``step`` grid.

    The grid runs from the start of each block. A slot starts at or after ``not_before``
    (usually now) and ends at or before ``not_after``. Sorted, without duplicates when
    blocks overlap.
    """
    if duration <= timedelta(0) or step <= timedelta(0):
        raise ValueError("duration and step must be positive")
    return slots_in_gaps(
        gaps=free_gaps(blocks=blocks, busy=busy, not_after=not_after),
        duration=duration, step=step, not_before=not_before,
    )


def free_gaps(
    *, blocks: Iterable[Interval], busy: Iterable[Interval], not_after: datetime | None = None
) -> list[Gap]:
    """The free time of each block: its maximal stretches clear of ``busy``, each with its block's start.

    A block ends at ``not_after`` at the latest. PostgreSQL computes the same gaps with
    multiranges (``selectors.py``); this is the way everywhere else.
    """
    taken = merge(busy)
    taken_ends = [end for _start, end in taken]
    gaps: list[Gap] = []
    for block_start, block_end in blocks:
        if not_after is not None:
            block_end = min(block_end, not_after)
        # Free gaps of this block: from the first busy interval ending after its start on.
        cursor = block_start
        index = bisect.bisect_right(taken_ends, block_start)
        while cursor < block_end:
            if index < len(taken) and taken[index][0] < block_end:
                busy_start, busy_end = taken[index]
                if busy_start > cursor:
                    gaps.append((block_start, cursor, busy_start))
                cursor = max(cursor, busy_end)
                index += 1
            else:
                gaps.append((block_start, cursor, block_end))
                break
    return gaps


def slots_in_gaps(
    *, gaps: Iterable[Gap], duration: timedelta, step: timedelta, not_before: datetime | None = None
) -> list[Interval]:
    """Slots of ``duration`` inside one gap each, on a ``step`` grid from the gap's block start.

    A slot starts at or after ``not_before``. Sorted, without duplicates (blocks may overlap).
    """
    if duration <= timedelta(0) or step <= timedelta(0):
        raise ValueError("duration and step must be positive")
    slots: set[Interval] = set()
    for block_start, gap_start, gap_end in gaps:
        earliest = gap_start if not_before is None else max(gap_start, not_before)
        start = block_start + _steps_to_reach(earliest - block_start, step) * step
        while start + duration <= gap_end:
            slots.add((start, start + duration))
            start += step
    return sorted(slots)


def covers(blocks: Sequence[Interval], start: datetime, end: datetime) -> bool:
    """Whether ``[start, end)`` lies inside one of ``blocks``."""
    return any(block_start <= start and end <= block_end for block_start, block_end in blocks)


def _steps_to_reach(offset: timedelta, step: timedelta) -> int:
    """The fewest whole steps from the grid's origin that reach ``offset`` (0 if it is behind)."""
    if offset <= timedelta(0):
        return 0
    return -(-offset // step)
