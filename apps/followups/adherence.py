"""Adherence: sessions logged against sessions prescribed, per program week and so far.

Pure: dates in, figures out. The one definition behind the program API, the admin's
program list, the patient's chart and the patient's "this week" page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Week:
    number: int          # 1 = the program's first week
    start: date
    logged: int          # days with a logged session in this week
    prescribed: int      # sessions a week
    due: float           # sessions due by today: the whole week once it is over, a share of it before

    @property
    def percent(self) -> int:
        return round(100 * self.logged / self.prescribed)

    def as_dict(self) -> dict:
        return {"week": self.number, "start": self.start.isoformat(), "logged": self.logged,
                "prescribed": self.prescribed, "percent": self.percent}


def weeks(*, start_date: date, weeks: int, sessions_per_week: int, session_dates: Iterable[date],
          today: date) -> list[Week]:
    """The program's weeks that have begun by ``today``; a day with two logs counts once."""
    days = set(session_dates)
    found = []
    for number in range(1, weeks + 1):
        start = start_date + timedelta(weeks=number - 1)
        if start > today:
            break
        end = start + timedelta(days=7)
        logged = sum(1 for day in days if start <= day < end)
        days_in = min(7, (today - start).days + 1)
        found.append(Week(number, start, logged, sessions_per_week, sessions_per_week * days_in / 7))
    return found


def so_far_percent(program_weeks: list[Week]) -> int | None:
    """Sessions logged against sessions due by today, capped at 100; None before the program starts."""
    due = sum(week.due for week in program_weeks)
    if not due:
        return None
    return min(100, round(100 * sum(week.logged for week in program_weeks) / due))


def last_days(session_dates: Iterable[date], *, today: date, days: int = 7) -> int:
    """Days with a logged session among the last ``days`` days, today included."""
    since = today - timedelta(days=days - 1)
    return len({day for day in session_dates if since <= day <= today})
