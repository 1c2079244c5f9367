"""Reads of the follow-up loop: adherence of a program, shaped once for the API, admin, chart and patient pages."""

from __future__ import annotations

from datetime import date

from apps.followups import adherence
from apps.prescriptions.models import Program, ProgramStatus

# What adherence reads of a program; prefetched once for a page of programs.
ADHERENCE_PREFETCH = ("session_logs", "patient")  # the patient: their own date is "today"


def session_dates(program: Program) -> list[date]:
    return [log.session_date for log in program.session_logs.all()]  # prefetch-friendly


def program_weeks(program: Program, *, today: date | None = None) -> list[adherence.Week]:
    """The program's weeks so far, in the patient's own dates; none for a draft."""
    if program.status == ProgramStatus.DRAFT:
        return []
    return adherence.weeks(start_date=program.start_date, weeks=program.weeks,
                           sessions_per_week=program.sessions_per_week, session_dates=session_dates(program),
                           today=today or program.patient.today())


def weekly_adherence(program: Program, *, today: date | None = None) -> list[dict]:
    """Per program week: sessions logged against sessions prescribed."""
    return [week.as_dict() for week in program_weeks(program, today=today)]
