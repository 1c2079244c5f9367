"""The therapist's day: today's visits with their notes, and what waits on the clinician.

One read for the page at /chart/day/: today's appointments (the clinic's date) with each
one's note status, the pending progression proposals and pain alerts of the clinician's
patients, what the plan-of-care clock says is due (within a week, or overdue) and the
notes running late. A fixed number of queries whatever the number of rows.

Whose day it is:
- a therapist: the visits booked with them, and today's visits of the patients on the open
  plans they own (seen by an assistant or a colleague: the plan is theirs to supervise);
  the proposals, alerts and clock of those plans' patients and of their programs; their
  own late drafts, late drafts on their plans, and assistants' notes on their plans
  waiting for their co-signature;
- an assistant: the visits booked with them (when the clinic books them) and today's
  visits of the patients on the open plans they write notes for (any note of theirs on the
  plan); the proposals and alerts of those patients, for reading; their own late drafts and
  their own notes still waiting for a co-signature; no clock (it is the plan's therapist's);
- a clinic manager: the whole clinic, read only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import BooleanField, Case, Q, Value, When
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.followups.models import ProgressionProposal, ProposalStatus
from apps.followups.reminders import PAIN_ALERT_ABOVE, alert_log_items
from apps.prescriptions.models import ProgramStatus
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits import clock
from apps.visits import selectors as visit_selectors
from apps.visits.models import NoteStatus, PlanOfCare, PlanStatus, VisitNote
from apps.visits.reminders import DIGEST_AHEAD
from hipclinic.zones import clinic_today, clinic_zone, local_day_bounds

NOTE_STATUS_LABELS = {None: "none", NoteStatus.DRAFT: "draft", NoteStatus.SIGNED: "signed",
                      NoteStatus.AWAITING_COSIGNATURE: "awaiting co-signature"}


@dataclass
class DayVisit:
    appointment: Appointment
    note: VisitNote | None
    note_status: str  # none / draft / signed / awaiting co-signature
    on_plan: bool  # the patient has an open plan of care
    report_due: bool  # the clock puts the next progress report on this visit

    @property
    def can_start_note(self) -> bool:
        """The visit happened, on a plan, and has no note yet (the rules ``start_note`` checks again)."""
        return (self.note is None and self.on_plan
                and self.appointment.status in (AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED))


@dataclass
class Alert:
    log_item: object  # a SessionLogItem from alert_log_items, with its log, program, patient and exercise
    reason: str


@dataclass
class DueItem:
    plan: PlanOfCare
    item: clock.Due


@dataclass
class Day:
    today: date
    whole_clinic: bool
    clock_on: bool
    visits: list[DayVisit] = field(default_factory=list)
    due: list[DueItem] = field(default_factory=list)
    proposals: list[ProgressionProposal] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    unsigned: list[VisitNote] = field(default_factory=list)
    awaiting: list[VisitNote] = field(default_factory=list)


def _plan_scope(user: User) -> Q | None:
    """The plans whose patients are the user's; None for the whole clinic."""
    if user.has_role(Role.CLINIC_MANAGER) or user.is_superuser:
        return None
    if user.has_role(Role.THERAPIST):
        return Q(therapist=user)
    return Q(pk__in=VisitNote.objects.filter(author=user).values("plan_of_care_id"))


def therapist_day(user: User, *, now: datetime | None = None) -> Day:
    """The signed-in clinician's day (see the module's docstring for whose rows are shown)."""
    now = now or timezone.now()
    today = clinic_today(now)
    scope = _plan_scope(user)
    is_therapist = scope is not None and user.has_role(Role.THERAPIST)
    open_plans = PlanOfCare.objects.filter(status=PlanStatus.OPEN)
    my_plans = open_plans if scope is None else open_plans.filter(scope)
    patients = my_plans.values("patient_id")

    # Today's visits (one query).
    start, end = local_day_bounds(today, clinic_zone())
    appointments = Appointment.objects.filter(start__gte=start, start__lt=end).exclude(
        status=AppointmentStatus.CANCELLED)
    if scope is not None:
        appointments = appointments.filter(Q(therapist__user=user) | Q(patient_id__in=patients))
    appointments = list(visit_selectors.with_open_plan(appointments)
                        .select_related("patient", "therapist", "kind", "visit_note")
                        .order_by("start", "id"))

    # The open plans of the user's patients and of today's visits, with the clock (one query,
    # and the policy, the visits, report notes and certifications of those plans).
    rules = visit_selectors.clock_rules()
    due, report_visits = [], set()
    if rules is not None:
        if scope is None:
            plans = open_plans.annotate(mine=Value(True, output_field=BooleanField()))
        else:
            plans = open_plans.filter(Q(pk__in=[a.open_plan_id for a in appointments if a.open_plan_id]) | scope)
            plans = plans.annotate(mine=Case(When(scope, then=Value(True)), default=Value(False),
                                             output_field=BooleanField()))
        plans = list(plans.select_related("patient", "therapist").order_by("patient__record_number", "pk"))
        facts = visit_selectors.plans_facts(plans)
        for plan in plans:
            report_visits.add(clock.report_visit(facts[plan.pk], rules, today))
            # The clock is the plan's therapist's (and a manager's) to act on, not an assistant's.
            if plan.mine and (scope is None or is_therapist):
                items = clock.due_by(clock.due_items(facts[plan.pk], rules, today), today + DIGEST_AHEAD)
                due += [DueItem(plan, item) for item in items]
        due.sort(key=lambda row: (not row.item.overdue, row.item.due_on or today, row.plan.patient.record_number))

    visits = []
    for appointment in appointments:
        note = getattr(appointment, "visit_note", None)
        visits.append(DayVisit(appointment=appointment, note=note,
                               note_status=NOTE_STATUS_LABELS[note.status if note else None],
                               on_plan=bool(appointment.open_plan_id), report_due=appointment.pk in report_visits))

    # Pending proposals and pain alerts of the user's patients and programs (one query each).
    proposals = ProgressionProposal.objects.filter(status=ProposalStatus.PENDING).exclude(
        program__status__in=[ProgramStatus.STOPPED, ProgramStatus.COMPLETED])
    alerts = alert_log_items(now)
    if scope is not None:
        proposals = proposals.filter(_theirs("program__", patients, user, is_therapist))
        alerts = alerts.filter(_theirs("log__program__", patients, user, is_therapist))
    proposals = proposals.select_related("program__patient", "item__exercise", "new_exercise")

    # Late notes (one query each).
    fields = ("patient", "appointment", "author", "plan_of_care__therapist")
    unsigned = visit_selectors.unsigned_notes(now=now).prefetch_related(None).select_related(*fields)
    awaiting = visit_selectors.awaiting_cosignature(now=now).prefetch_related(None).select_related(*fields)
    if scope is not None:
        unsigned = unsigned.filter(Q(author=user) | Q(plan_of_care__therapist=user))
        awaiting = awaiting.filter(plan_of_care__therapist=user) if is_therapist else awaiting.filter(author=user)

    return Day(
        today=today, whole_clinic=scope is None, clock_on=rules is not None, visits=visits, due=due,
        proposals=list(proposals.order_by("created_at", "pk")), alerts=[_alert(row) for row in alerts],
        unsigned=list(unsigned.order_by("created_at", "pk")), awaiting=list(awaiting.order_by("signed_at", "pk")),
    )



def _alert(log_item) -> Alert:
    if log_item.pain_during is not None and log_item.pain_during > PAIN_ALERT_ABOVE:
        return Alert(log_item, f"pain {log_item.pain_during}/10 during the exercise")
    return Alert(log_item, "worse the next morning, twice running")


def _theirs(prefix: str, patients, user: User, is_therapist: bool) -> Q:
    """Programs of the user's patients, and for a therapist the programs they prescribed."""
    rows = Q(**{f"{prefix}patient_id__in": patients})
    return rows | Q(**{f"{prefix}therapist": user}) if is_therapist else rows
