"""The plan-of-care clock: what a plan needs next, and by when (clinical-reference.md section 8).

Pure: plain values in, a list of due items out, no Django. Every number is the clinic's
(policy): certification within ``certification_due_days`` of the first treatment, a
re-certification every ``recertification_days``, a progress report at least every
``progress_every`` treatment visits, and a discharge summary after the last visit.

Visits are the plan's appointments that happened (checked in or completed) or are still
to come (booked, today or later), numbered from 1 in time order; a booking left open on a
past day (never checked in nor marked missed) is neither and is not counted. A progress
report, re-evaluation or discharge summary written at visit k restarts the count: the
next report is due at visit k + progress_every (the first at visit ``progress_every``).

Certification periods chain on: the first runs ``recertification_days`` from the first
treatment (from the plan's start before any treatment), and each re-certification adds
one period from the end of the last, or from its own date when it was signed after the
last period had run out (the days in between were not covered).
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


def counted_visits(visits: tuple[Visit, ...], today: date) -> tuple[Visit, ...]:
    """The visits the clock counts: those that happened and those still to come."""
    return tuple(visit for visit in visits if visit.happened or visit.day >= today)


def due_items(plan: PlanFacts, rules: Rules, today: date) -> list[Due]:
    """What the plan needs next, soonest first; nothing once it is discharged."""
    if plan.discharged:
        return []
    visits = counted_visits(plan.visits, today)
    happened = [v for v in visits if v.happened]
    first_treatment = happened[0].day if happened else None
    items: list[Due] = []

    if not plan.certified_on:
        # The deadline counts from the first treatment: before it there is nothing to chase yet.
        if first_treatment is not None:
            due = first_treatment + timedelta(days=rules.certification_due_days)
            items.append(Due("certification", f"Certification by the referring clinician due by {due:%d %b %Y}.",
                             due_on=due, overdue=today > due))
    else:
        due = certified_through(plan, rules, first_treatment)
        items.append(Due("recertification", f"Re-certification due by {due:%d %b %Y}.",
                         due_on=due, overdue=today > due))

    discharge = _discharge_summary(plan, visits, first_treatment, today)
    if discharge:
        items.append(discharge)  # it reviews the goals: no progress report besides it
    else:
        items.append(_next_progress_report(visits, rules.progress_every, today))
    return sorted(items, key=lambda d: (not d.overdue, d.due_on or date.max))


def certified_through(plan: PlanFacts, rules: Rules, first_treatment: date | None) -> date:
    """The day the last certification period ends (the re-certification's deadline)."""
    period = timedelta(days=rules.recertification_days)
    end = (first_treatment or plan.started_on) + period
    for signed in plan.certified_on[1:]:
        end = max(end, signed) + period
    return end


def _discharge_summary(plan: PlanFacts, visits: tuple[Visit, ...], first_treatment: date | None,
                       today: date) -> Due | None:
    """Due once the plan's weeks are over, a visit happened and none is booked any more."""
    if first_treatment is None or any(not v.happened for v in visits):
        return None
    end = first_treatment + timedelta(weeks=plan.duration_weeks)
    if today < end:
        return None
    last = [v for v in visits if v.happened][-1]
    due = max(end, last.day)
    return Due("discharge_summary", f"Discharge summary: the plan's {plan.duration_weeks} weeks are over and no "
                                    f"visit is booked; write it for the last visit ({last.day:%d %b %Y}).",
               due_on=due, appointment_id=last.appointment_id, overdue=today > due)


def _next_progress_report(visits: tuple[Visit, ...], every: int, today: date) -> Due:
    last_report = 0
    for number, visit in enumerate(visits, start=1):
        if visit.report:
            last_report = number
    due_number = last_report + every
    if due_number <= len(visits):
        visit = visits[due_number - 1]
        overdue = visit.happened and visit.day < today
        when = f"at visit {due_number} ({visit.day:%d %b %Y})"
        later = "; write it at the next visit" if overdue else ""
        return Due("progress_report", f"Progress report due {when}{later}.", due_on=visit.day,
                   at_visit=due_number, appointment_id=visit.appointment_id, overdue=overdue)
    return Due("progress_report", f"Progress report due at visit {due_number} "
                                  f"({len(visits)} visit{'s' if len(visits) != 1 else ''} so far).",
               at_visit=due_number)


def report_visit(plan: PlanFacts, rules: Rules, today: date) -> int | None:
    """The appointment to book as a progress-report visit: the one the report falls due at, or, when
    that visit passed without it, the next one from today on; None when there is none booked."""
    if plan.discharged:
        return None
    due = next((d for d in due_items(plan, rules, today) if d.what == "progress_report"), None)
    if due is None:
        return None
    visits = counted_visits(plan.visits, today)
    for visit in visits[due.at_visit - 1:]:
        if visit.day >= today:
            return visit.appointment_id
    return None


def due_by(items: list[Due], day: date) -> list[Due]:
    """The items overdue or due on ``day`` or before (not those counted in visits not booked yet)."""
    return [item for item in items if item.overdue or (item.due_on is not None and item.due_on <= day)]


def visit_number(visits: tuple[Visit, ...], appointment_id: int) -> int | None:
    for number, visit in enumerate(visits, start=1):
        if visit.appointment_id == appointment_id:
            return number
    return None
