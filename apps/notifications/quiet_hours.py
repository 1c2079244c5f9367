"""Quiet hours: no scheduled e-mail between, say, 21:00 and 08:00 in the recipient's zone.

Pure: no Django, no database. The window is the clinic's choice (``ClinicPolicy``; see
``apps.notifications.services.send_time``, which passes it in). A moment inside the quiet
hours is moved to the end of them, local time; the result is a UTC moment for
``OutboxEmail.send_after``, so the sweep (not a Celery countdown) sends the e-mail when it
comes due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from hipclinic.zones import local_to_utc


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local wall-clock time; it may run over midnight (21:00-08:00) or not (12:00-14:00)."""

    start: time = time(21)
    end: time = time(8)

    def __post_init__(self):
        if self.start == self.end:
            raise ValueError("quiet hours must end at another time than they start")

    def contains(self, local: time) -> bool:
        if self.start > self.end:  # over midnight
            return local >= self.start or local < self.end
        return self.start <= local < self.end


DEFAULT = QuietHours()


def is_quiet(local: time, quiet: QuietHours | None = DEFAULT) -> bool:
    """True for a local wall-clock time inside the quiet hours."""
    return quiet is not None and quiet.contains(local)


def next_allowed(moment_utc: datetime, zone: tzinfo, quiet: QuietHours | None = DEFAULT) -> datetime:
    """``moment_utc`` itself outside quiet hours (or with none); otherwise their end, local time, as UTC.

    DST-safe: the end is built from the local calendar date and the wall-clock time and only
    then converted, so it is 08:00 local whatever the offset was the evening before.
    """
    local = moment_utc.astimezone(zone)
    if not is_quiet(local.time(), quiet):
        return moment_utc
    end_date = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
    return local_to_utc(end_date, quiet.end, zone)
