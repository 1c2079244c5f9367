"""A new note's first draft, from what the clinic already knows (the therapist edits it before signing).

S from the home program's session logs since the previous visit, O from the measures
recorded on the visit's day, A from pending progression proposals and the change against
baseline (with the MCID), P from the current program and the next booked visit. Progress
reports and discharge summaries add each goal's baseline, current value and whether it is met.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from apps.assessments import scoring
from apps.assessments.models import Assessment, OutcomeMeasure
from apps.assessments.selectors import progress
from apps.followups.models import Effort, NextMorning, ProgressionProposal, ProposalStatus, SessionLog
from apps.prescriptions.models import Program, ProgramStatus
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits.models import REPORT_KINDS, PlanOfCare
from hipclinic.zones import clinic_zone, local_date, long_when


def visit_day(appointment: Appointment) -> date:
    """The visit's date where the patient lives (the dates their session logs carry)."""
    return local_date(appointment.patient.zone, appointment.start)


def previous_visit(appointment: Appointment) -> Appointment | None:
    return (Appointment.objects.filter(patient_id=appointment.patient_id, start__lt=appointment.start,
                                       status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.CHECKED_IN])
            .order_by("-start").first())


def next_visit(appointment: Appointment) -> Appointment | None:
    return (Appointment.objects.filter(patient_id=appointment.patient_id, start__gt=appointment.start,
                                       status=AppointmentStatus.BOOKED)
            .select_related("therapist", "kind").order_by("start").first())


def home_program(plan: PlanOfCare) -> Program | None:
    """The plan's program, or else the patient's active one."""
    if plan.program_id:
        return plan.program
    return Program.objects.filter(patient_id=plan.patient_id, status=ProgramStatus.ACTIVE).first()


def prefill(*, appointment: Appointment, plan: PlanOfCare, kind: str) -> dict:
    day = visit_day(appointment)
    program = home_program(plan)
    before = previous_visit(appointment)
    since = visit_day(before) if before else None
    content = {
        "subjective": subjective(program, since=since, day=day),
        "objective": objective(appointment.patient_id, day=day),
        "assessment": assessment(appointment, program),
        "plan": plan_text(program, appointment),
        "goal_review": goal_review(plan, day=day) if kind in REPORT_KINDS else [],
    }
    return content


def subjective(program: Program | None, *, since: date | None, day: date) -> str:
    if program is None:
        return "No home program on record.\n"
    logs = SessionLog.objects.filter(program=program, session_date__lte=day).prefetch_related("items")
    start = since or program.start_date
    logs = [log for log in logs if (log.session_date > since if since else log.session_date >= start)]
    span_days = max(0, (day - start).days + (0 if since else 1))
    prescribed = round(program.sessions_per_week * span_days / 7)
    period = f"since the last visit ({since:%d %b})" if since else f"since the program began ({start:%d %b})"
    lines = [f"Home program {period}: {len({log.session_date for log in logs})} sessions logged "
             f"of about {prescribed} prescribed."]
    pains = [item.pain_during for log in logs for item in log.items.all() if item.pain_during is not None]
    if pains:
        lines.append(f"Pain during exercise: {min(pains)}-{max(pains)}/10 (highest {max(pains)}).")
    mornings = Counter(item.next_morning for log in logs for item in log.items.all() if item.next_morning)
    if mornings:
        lines.append("Next morning: " + ", ".join(
            f"{NextMorning(answer).label.lower()} {count}x" for answer, count in sorted(mornings.items())) + ".")
    too_hard = sum(1 for log in logs if log.effort == Effort.TOO_HARD)
    if too_hard:
        lines.append(f"Rated the session too hard {too_hard} time{'s' if too_hard != 1 else ''}.")
    notes = [log.note for log in logs if log.note]
    if notes:
        lines.append("Patient's comments: " + " / ".join(notes[-3:]))
    lines.append("Patient reports: ")
    return "\n".join(lines)


def objective(patient_id: int, *, day: date) -> str:
    lines = []
    for visit in Assessment.objects.filter(patient_id=patient_id, assessed_on=day).prefetch_related("sides"):
        if visit.pain_now is not None:
            lines.append(f"Pain now {visit.pain_now}/10.")
        for side in visit.sides.all():
            parts = []
            if side.mmt_grade:
                parts.append(f"hip flexion MMT {side.mmt_grade}/5")
            if side.best_newtons:
                parts.append(f"best {side.best_newtons:g} N")
            if parts:
                lines.append(f"{side.get_side_display()}: " + ", ".join(parts) + ".")
    for outcome in OutcomeMeasure.objects.filter(patient_id=patient_id, recorded_on=day, score__isnull=False):
        lines.append(f"{scoring.info(outcome.measure).label}: {outcome.score:g}.")
    if not lines:
        lines.append("No measures recorded today.")
    lines.append("Treatment given: ")
    return "\n".join(lines)


def assessment(appointment: Appointment, program: Program | None) -> str:
    lines = []
    if program is not None:
        for proposal in ProgressionProposal.objects.filter(program=program, status=ProposalStatus.PENDING) \
                .select_related("item__exercise"):
            exercise = proposal.item.exercise.name if proposal.item else "an exercise"
            lines.append(f"Pending proposal to {proposal.action} {exercise}: {proposal.reason}")
    lines.extend(progress(appointment.patient)["summary"])
    if not lines:
        lines.append("No change against baseline recorded yet.")
    lines.append("Response to treatment: ")
    return "\n".join(lines)


def plan_text(program: Program | None, appointment: Appointment) -> str:
    lines = []
    if program is not None:
        items = list(program.items.select_related("exercise"))
        if items:
            lines.append("Continue the home program:")
            lines.extend(f"- {item.exercise.name}: {item.dose_text}" for item in items)
    following = next_visit(appointment)
    if following:
        lines.append(f"Next visit: {long_when(following.start, clinic_zone())} with {following.therapist}.")
    else:
        lines.append("No further visit booked.")
    return "\n".join(lines)


def goal_review(plan: PlanOfCare, *, day: date) -> list[dict]:
    """Per goal: the baseline and latest score of its measure by ``day``, and whether the target is met."""
    scores: dict[str, list[float]] = {}
    for measure, score in (OutcomeMeasure.objects.filter(patient_id=plan.patient_id, recorded_on__lte=day,
                                                         score__isnull=False)
                           .order_by("recorded_on", "id").values_list("measure", "score")):
        scores.setdefault(measure, []).append(float(score))
    review = []
    for goal in plan.goals.all():
        row = {"goal": goal.description, "measure": goal.measure or None,
               "target": None if goal.target is None else float(goal.target),
               "baseline": None, "current": None, "met": None}
        series = scores.get(goal.measure) if goal.measure else None
        if series:
            row["baseline"], row["current"] = series[0], series[-1]
            if goal.target is not None:
                higher = scoring.info(goal.measure).higher_is_better
                row["met"] = series[-1] >= float(goal.target) if higher else series[-1] <= float(goal.target)
        review.append(row)
    return review
