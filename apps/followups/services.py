"""Follow-ups planned on activation, their booking, and the patient's session logs."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.followups.models import FollowUp, FollowUpStatus, SessionLog, SessionLogItem
from apps.ops.policy import clinic_policy
from apps.prescriptions.models import Program, ProgramStatus


def plan_followups(*, program: Program, **_kwargs) -> int:
    """Re-assessments due at the clinic's follow-up weeks (2, 4 and 6 by default) of the program; idempotent."""
    rows = [FollowUp(program=program, week=week, due_date=program.start_date + timedelta(weeks=week))
            for week in clinic_policy().followup_week_numbers]
    return len(FollowUp.objects.bulk_create(rows, ignore_conflicts=True))


def book_followup(*, followup: FollowUp, appointment) -> FollowUp:
    if appointment.patient_id != followup.program.patient_id:
        raise ValidationError({"appointment": "That appointment belongs to another patient."})
    followup.appointment, followup.status = appointment, FollowUpStatus.BOOKED
    followup.save(update_fields=["appointment", "status"])
    return followup


def cancel_followup(*, followup: FollowUp, by) -> FollowUp:
    """A planned re-assessment that will not happen (the patient was discharged, or seen otherwise)."""
    if followup.status != FollowUpStatus.TO_BOOK:
        raise ValidationError({"status": "Only a follow-up still to book can be cancelled."})
    followup.status = FollowUpStatus.CANCELLED
    followup.save(update_fields=["status"])
    return followup


def patient_today(program: Program) -> date:
    return program.patient.today()


def session_problems(*, program: Program, session_date: date, items: list[dict]) -> dict[str, list[str]]:
    """Why this session cannot be logged, by field: a program not active, a day not yet come or
    before the start, no exercise, an exercise not on the program or logged twice."""
    problems: dict[str, list[str]] = {}
    if program.status != ProgramStatus.ACTIVE:
        problems.setdefault("program", []).append("This program is not active.")
    if session_date > patient_today(program):
        problems.setdefault("session_date", []).append("This day has not happened yet.")
    if session_date < program.start_date:
        problems.setdefault("session_date", []).append("The program had not started on that day.")
    on_program = set(program.items.values_list("pk", flat=True))
    if not items:
        problems.setdefault("items", []).append("Log at least one exercise.")
    for data in items:
        if data.get("item") not in on_program:
            problems.setdefault("items", []).append("That exercise is not on this program.")
    if len({data.get("item") for data in items}) < len(items):
        # Two rows of one exercise would count as two sessions toward two-for-two.
        problems.setdefault("items", []).append("Each exercise can be logged once per session.")
    return problems


def log_session(
    *,
    program: Program,
    session_date: date,
    items: list[dict],
    submission_key: str,
    effort: str = "",
    note: str = "",
    source: str = "patient",
    logged_by=None,
) -> SessionLog:
    """Record one session; a form submitted twice (same key) saves once. Refuses the future,
    items that are not on the program, and numbers out of range, saving nothing."""
    existing = SessionLog.objects.filter(submission_key=submission_key).first()
    if existing is not None:
        return existing
    problems = session_problems(program=program, session_date=session_date, items=items)
    if problems:
        raise ValidationError(problems)
    on_program = {item.pk: item for item in program.items.select_related("exercise")}
    try:
        with transaction.atomic():
            log = SessionLog(program=program, session_date=session_date, effort=effort, note=note.strip(),
                             source=source, logged_by=logged_by, submission_key=submission_key)
            log.full_clean(exclude=["submission_key"])
            log.save()
            for data in items:
                item = on_program[data["item"]]
                row = SessionLogItem(log=log, item=item, exercise=item.exercise,
                                     sets_done=data.get("sets_done"), last_set_amount=data.get("last_set_amount"),
                                     pain_during=data.get("pain_during"), next_morning=data.get("next_morning", ""))
                row.full_clean(exclude=["log", "item", "exercise"])
                row.save()
            from apps.followups import progression_service

            progression_service.refresh_proposals(program=program)
    except IntegrityError:
        # The same form arrived twice at the same moment: the first one won.
        existing = SessionLog.objects.filter(submission_key=submission_key).first()
        if existing is None:
            raise
        return existing
    return log


def record_next_morning(*, log_item: SessionLogItem, answer: str) -> SessionLogItem:
    if answer not in {"better", "same", "worse"}:
        raise ValidationError({"next_morning": "Choose better, the same or worse."})
    log_item.next_morning = answer
    log_item.save(update_fields=["next_morning"])
    from apps.followups import progression_service

    progression_service.refresh_proposals(program=log_item.log.program)
    return log_item
