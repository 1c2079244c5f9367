"""Time zones, local dates and how times read in words: one definition for every app.

Datetimes are stored in UTC. A patient's date and hour are those of the patient's own zone
(``Patient.time_zone``); the clinic's are those of ``CLINIC_TIME_ZONE``. Whatever needs "today"
or "08:00" for someone asks here, so no app computes a local date in its own way.

Wall-clock times that a DST change makes odd are read as "the first instant at which the
clocks show this time or later": a skipped time (01:30 on a spring-forward day in London)
is the instant of the jump, a time shown twice (01:30 on a fall-back day) its first occurrence.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

Interval = tuple[datetime, datetime]


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted; read from the time zone database on disk once per process."""
    return tuple(sorted(available_timezones()))


@functools.cache
def all_zones() -> tuple[tuple[str, ZoneInfo], ...]:
    """Every IANA zone by name, loaded once per process: ``ZoneInfo``'s own cache keeps only
    a few zones alive, so a scan over all of them would otherwise read ~600 files each time."""
    return tuple((name, ZoneInfo(name)) for name in zone_names())


@functools.cache
def _zone_name_set() -> frozenset[str]:
    return frozenset(zone_names())


def is_zone_name(name: str) -> bool:
    return name in _zone_name_set()


def clinic_zone() -> ZoneInfo:
    from django.conf import settings

    return ZoneInfo(settings.CLINIC_TIME_ZONE)


def zone_named(name: str) -> ZoneInfo:
    """The zone of that name; the clinic's for a name the database does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return clinic_zone()


def local_date(zone: tzinfo, now: datetime | None = None) -> date:
    """The calendar date in ``zone`` at ``now`` (default: this instant)."""
    return (now or datetime.now(UTC)).astimezone(zone).date()


def clinic_today(now: datetime | None = None) -> date:
    return local_date(clinic_zone(), now)


def local_to_utc(day: date, wall: time, zone: tzinfo) -> datetime:
    """The first instant at which clocks in ``zone`` show ``wall`` on ``day`` or later, in UTC."""
    naive = datetime.combine(day, wall)
    earlier = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if earlier.astimezone(zone).replace(tzinfo=None) == naive:
        return earlier  # exists; fold=0 is the first of two occurrences on a fall-back day
    # Skipped by a spring-forward jump. fold=1 reads it with the offset after the jump and
    # fold=0 with the one before, which puts the jump between the two: find it.
    before = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = earlier
    if before > after:  # a zone whose offset goes down at a gap: none known, but stay safe
        before, after = after, before
    offset_before = before.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(zone).utcoffset() == offset_before:
            before = middle
        else:
            after = middle
    return after.replace(microsecond=0)


def local_day_bounds(day: date, zone: tzinfo) -> Interval:
    """The UTC instants at which local ``day`` begins and the next one begins."""
    return local_to_utc(day, time(0), zone), local_to_utc(day + timedelta(days=1), time(0), zone)


def zones_by_local_date(now: datetime) -> dict[date, list[str]]:
    """Every IANA zone grouped by its calendar date at ``now``: two or three groups.

    Lets a scan over people in many zones ask, in SQL, "whose local date is D" as a short
    OR of ``time_zone IN (...)`` instead of converting each row's zone.
    """
    groups: dict[date, list[str]] = defaultdict(list)
    for name, zone in all_zones():
        groups[now.astimezone(zone).date()].append(name)
    return groups


def iso_week(day: date) -> str:
    """'2026-W49': the ISO week a date falls in (weeks start on Monday)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def short_when(moment: datetime, zone: tzinfo) -> str:
    """'Mon 24 Nov at 10:00', for subjects."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


def long_date(day: date) -> str:
    """'Monday 24 November 2026'."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def long_when(moment: datetime, zone: tzinfo) -> str:
    """'Monday 24 November 2026 at 10:00', for bodies."""
    local = moment.astimezone(zone)
    return f"{long_date(local.date())} at {local:%H:%M}"
