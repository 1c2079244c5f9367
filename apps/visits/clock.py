"""The plan-of-care clock: what a plan needs next, and by when (clinical-reference.md section 8).

Pure: plain values in, a list of due items out, no Django. Every number is the clinic's
(policy): certification within ``certification_due_days`` of the first treatment, a
re-certification every ``recertification_days``, a progress report at least every
``progress_every`` treatment visits, and a discharge summary after the last visit.

Visits are the plan's appointments that happened or are booked (not cancelled, not
missed), numbered from 1 in time order. A progress report, re-evaluation or discharge
summary written at visit k restarts the count: the next report is due at visit
k + progress_every (the first at visit ``progress_every``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Rules:
    certification_due_days: int = 30
    recertification_days: int = 90
    progress_every: int = 10


@dataclass(frozen=True)
class Visit:
    appointment_id: int
    day: date
    happened: bool  # completed (or checked in); False: booked, still to come
    report: bool = False  # a progress report, re-evaluation or discharge summary was written at it


@dataclass(frozen=True)
class PlanFacts:
    started_on: date
    duration_weeks: int
    visits: tuple[Visit, ...]  # in time order
    certified_on: tuple[date, ...] = ()  # each certification's signature date, oldest first
    discharged: bool = False


@dataclass(frozen=True)
class Due:
    what: str  # "certification", "progress_report", "recertification", "discharge_summary"
    text: str
    due_on: date | None = None  # a deadline by date
    at_visit: int | None = None  # or by visit number
    appointment_id: int | None = None  # the booked (or past) visit it falls on, when known
    overdue: bool = False


def due_items(plan: PlanFacts, rules: Rules, today: date) -> list[Due]:
    """What the plan needs next, soonest first; nothing once it is discharged."""
    if plan.discharged:
        return []
    items: list[Due] = []
    happened = [v for v in plan.visits if v.happened]
    first_treatment = happened[0].day if happened else None

    if not plan.certified_on:
        if first_treatment is None:
            items.append(Due("certification", f"Certification by the referring clinician: due within "
                                              f"{rules.certification_due_days} days of the first treatment."))
        else:
            due = first_treatment + timedelta(days=rules.certification_due_days)
            items.append(Due("certification", f"Certification by the referring clinician due by {due:%d %b %Y}.",
                             due_on=due, overdue=today > due))
    else:
        # Each period runs recertification_days from the first treatment (or the plan's start),
        # the next one from the end of the last: re-certified periods chain on.
        anchor = first_treatment or plan.started_on
        periods = len(plan.certified_on)
        due = anchor + timedelta(days=rules.recertification_days * periods)
        items.append(Due("recertification", f"Re-certification due by {due:%d %b %Y}.",
                         due_on=due, overdue=today >= due))

    report = _next_progress_report(plan.visits, rules.progress_every, today)
    if report:
        items.append(report)

    end = (first_treatment or plan.started_on) + timedelta(weeks=plan.duration_weeks)
    booked_ahead = any(not v.happened for v in plan.visits)
    if happened and not booked_ahead and today >= end:
        last = happened[-1]
        items.append(Due("discharge_summary", f"Discharge summary: the plan's {plan.duration_weeks} weeks are over "
                                              f"and no visit is booked; write it for the last visit "
                                              f"({last.day:%d %b %Y}).",
                         due_on=last.day, appointment_id=last.appointment_id, overdue=today > end))
    return sorted(items, key=lambda d: (not d.overdue, d.due_on or date.max))


def _next_progress_report(visits: tuple[Visit, ...], every: int, today: date) -> Due | None:
    last_report = 0
    for number, visit in enumerate(visits, start=1):
        if visit.report:
            last_report = number
    due_number = last_report + every
    if due_number <= len(visits):
        visit = visits[due_number - 1]
        overdue = visit.happened and visit.day < today
        when = f"at visit {due_number} ({visit.day:%d %b %Y})"
        return Due("progress_report", f"Progress report due {when}.", due_on=visit.day, at_visit=due_number,
                   appointment_id=visit.appointment_id, overdue=overdue)
    return Due("progress_report", f"Progress report due at visit {due_number} "
                                  f"({len(visits)} visit{'s' if len(visits) != 1 else ''} so far).",
               at_visit=due_number)


def visit_number(visits: tuple[Visit, ...], appointment_id: int) -> int | None:
    for number, visit in enumerate(visits, start=1):
        if visit.appointment_id == appointment_id:
            return number
    return None
