"""Quiet hours: no scheduled patient e-mail between 21:00 and 08:00 in the recipient's zone.

Pure: no Django, no database. A moment inside the quiet hours is moved to 08:00 local on
the next morning; the result is a UTC moment for ``OutboxEmail.send_after``, so the sweep
(not a Celery countdown) sends the e-mail when it comes due.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

QUIET_START = time(21)
QUIET_END = time(8)


def is_quiet(local: time) -> bool:
    """True for a local wall-clock time between 21:00 and 08:00."""
    return local >= QUIET_START or local < QUIET_END


def next_allowed(moment_utc: datetime, zone: tzinfo) -> datetime:
    """``moment_utc`` itself outside quiet hours; otherwise the next 08:00 local, as UTC.

    DST-safe: the morning is built from the local calendar date and 08:00 wall-clock time
    and only then converted, so it is 08:00 local whatever the offset was the evening before.
    """
    local = moment_utc.astimezone(zone)
    if not is_quiet(local.time()):
        return moment_utc
    morning_date = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(morning_date, QUIET_END, tzinfo=zone).astimezone(UTC)
