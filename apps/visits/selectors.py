"""Reads of plans and notes: the clock's facts, notes waiting on someone, the hash check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import BooleanField, Case, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from apps.ops.policy import clinic_policy
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits import clock
from apps.visits.models import REPORT_KINDS, Addendum, Certification, NoteStatus, PlanOfCare, PlanStatus, VisitNote
from hipclinic.zones import clinic_zone, local_date, local_day_bounds

VISIT_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)


def notes() -> QuerySet:
    return VisitNote.objects.select_related("patient", "appointment", "author", "signed_by", "cosigned_by",
                                            "plan_of_care").prefetch_related(
        Prefetch("addenda", queryset=Addendum.objects.select_related("author")))


def plans() -> QuerySet:
    return PlanOfCare.objects.select_related("patient", "therapist", "program").prefetch_related(
        "diagnoses", "goals", "certifications")


def clock_rules() -> clock.Rules | None:
    """The clinic's numbers, or None when the clinic keeps no clock."""
    policy = clinic_policy()
    if not policy.plan_of_care_clock:
        return None
    return clock.Rules(certification_due_days=policy.certification_due_days,
                       recertification_days=policy.recertification_days,
                       progress_every=policy.progress_report_every_visits)


def plan_facts(plan: PlanOfCare, *, appointments=None, report_appointment_ids=None,
               certified_on=None) -> clock.PlanFacts:
    """The clock's view of one plan: its visits (from its start day on), certifications and reports.

    The three keyword arguments let a page that shows many plans pass what it fetched in bulk.
    """
    zone = clinic_zone()
    if appointments is None:
        start = local_day_bounds(plan.started_on, zone)[0]
        appointments = list(Appointment.objects.filter(patient_id=plan.patient_id, start__gte=start,
                                                       status__in=VISIT_STATUSES).order_by("start", "id")
                            .values("id", "start", "status"))
    if report_appointment_ids is None:
        # A report counts once signed: a draft is not yet on the record (late drafts are flagged apart).
        report_appointment_ids = set(plan.notes.filter(kind__in=REPORT_KINDS).exclude(status=NoteStatus.DRAFT)
                                     .values_list("appointment_id", flat=True))
    if certified_on is None:
        certified_on = [c.signed_on for c in plan.certifications.all()]
    visits = tuple(
        clock.Visit(appointment_id=row["id"], day=local_date(zone, row["start"]),
                    happened=row["status"] != AppointmentStatus.BOOKED,
                    report=row["id"] in report_appointment_ids)
        for row in appointments if (plan.discharged_on is None or local_date(zone, row["start"]) <= plan.discharged_on)
    )
    return clock.PlanFacts(started_on=plan.started_on, duration_weeks=plan.duration_weeks, visits=visits,
                           certified_on=tuple(sorted(certified_on)),
                           discharged=plan.status == PlanStatus.DISCHARGED)


def due_for_plan(plan: PlanOfCare, *, today: date | None = None) -> list[clock.Due]:
    rules = clock_rules()
    if rules is None or plan.status != PlanStatus.OPEN:
        return []
    return clock.due_items(plan_facts(plan), rules, today or local_date(clinic_zone()))


def plans_facts(plans, *, certifications: bool = True) -> dict[int, clock.PlanFacts]:
    """The clock's view of many plans, {plan id: facts}, in three queries whatever their number.

    Their patients' visits, their report notes and (unless ``certifications`` is False, for a
    caller that only asks about progress reports) their certification dates.
    """
    plans = list(plans)
    if not plans:
        return {}
    zone = clinic_zone()
    starts = {plan.pk: local_day_bounds(plan.started_on, zone)[0] for plan in plans}
    visits = defaultdict(list)
    for row in (Appointment.objects.filter(patient_id__in={plan.patient_id for plan in plans},
                                           start__gte=min(starts.values()), status__in=VISIT_STATUSES)
                .order_by("start", "id").values("id", "patient_id", "start", "status")):
        visits[row["patient_id"]].append(row)
    reports = defaultdict(set)
    for plan_id, appointment_id in VisitNote.objects.filter(
            plan_of_care_id__in=starts, kind__in=REPORT_KINDS).exclude(status=NoteStatus.DRAFT) \
            .values_list("plan_of_care_id", "appointment_id"):
        reports[plan_id].add(appointment_id)
    certified = defaultdict(list)
    if certifications:
        for plan_id, signed_on in Certification.objects.filter(plan_id__in=starts).values_list("plan_id", "signed_on"):
            certified[plan_id].append(signed_on)
    return {
        plan.pk: plan_facts(plan, report_appointment_ids=reports[plan.pk], certified_on=certified[plan.pk],
                            appointments=[row for row in visits[plan.patient_id] if row["start"] >= starts[plan.pk]])
        for plan in plans
    }


def due_for_plans(plans, *, today: date | None = None) -> dict[int, list[clock.Due]]:
    """What the clock says of each open plan, {plan id: items}; {} when the clinic keeps no clock."""
    rules = clock_rules()
    if rules is None:
        return {}
    today = today or local_date(clinic_zone())
    facts = plans_facts([plan for plan in plans if plan.status == PlanStatus.OPEN])
    return {plan_id: clock.due_items(plan, rules, today) for plan_id, plan in facts.items()}


def with_open_plan(appointments: QuerySet) -> QuerySet:
    """Appointments annotated ``open_plan_id``: their patient's open plan of care, or None.

    Lets ``visit_hints`` skip its queries for a list with no patient on a plan.
    """
    open_plans = PlanOfCare.objects.filter(patient_id=OuterRef("patient_id"), status=PlanStatus.OPEN)
    return appointments.annotate(open_plan_id=Subquery(open_plans.values("pk")[:1]))


def visit_hints(appointments) -> dict[int, str]:
    """For the front desk: {appointment id: booking hint} for the visits the clock asks something of.

    The hint is booking advice only ("Progress report due at this visit: book 45 minutes."),
    never clinical content. It falls on the visit the next progress report is due at, or, when
    that visit passed without one, on the next visit booked. No query when no appointment is a
    booked or checked-in visit of a patient on an open plan (with ``with_open_plan``'s
    annotation); otherwise the policy, the plans, their visits and report notes.
    """
    candidates = [a for a in appointments if a.status in (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)]
    if all(hasattr(a, "open_plan_id") for a in candidates):
        candidates = [a for a in candidates if a.open_plan_id]
    if not candidates:
        return {}
    rules = clock_rules()
    if rules is None:
        return {}
    plans = PlanOfCare.objects.filter(patient_id__in={a.patient_id for a in candidates}, status=PlanStatus.OPEN)
    today = local_date(clinic_zone())
    book = {clock.report_visit(facts, rules, today) for facts in plans_facts(plans, certifications=False).values()}
    text = f"Progress report due at this visit: book {clinic_policy().report_visit_minutes} minutes."
    return {a.pk: text for a in candidates if a.pk in book}


def visit_hint(appointment: Appointment) -> str:
    """For the front desk: what the clock asks of this visit, as a booking hint only ("" when nothing)."""
    return visit_hints([appointment]).get(appointment.pk, "")


def _late_draft(now: datetime) -> Q:
    return Q(status=NoteStatus.DRAFT, created_at__lte=now - timedelta(hours=clinic_policy().unsigned_note_hours))


def _late_for_cosignature(now: datetime) -> Q:
    return Q(status=NoteStatus.AWAITING_COSIGNATURE, signed_at__lte=now - timedelta(hours=clinic_policy().cosign_hours))


def unsigned_notes(*, now: datetime | None = None) -> QuerySet:
    """Drafts older than the clinic's limit (hours since the note was started)."""
    return notes().filter(_late_draft(now or timezone.now()))


def awaiting_cosignature(*, now: datetime | None = None) -> QuerySet:
    """Assistants' signed notes not co-signed within the clinic's limit."""
    return notes().filter(_late_for_cosignature(now or timezone.now()))


def with_lateness(queryset: QuerySet, *, now: datetime | None = None) -> QuerySet:
    """Each note annotated ``is_late``: a draft past the unsigned limit, or an assistant's note past the co-sign one."""
    now = now or timezone.now()
    late = _late_draft(now) | _late_for_cosignature(now)
    return queryset.annotate(is_late=Case(When(late, then=Value(True)), default=Value(False),
                                          output_field=BooleanField()))


@dataclass
class HashCheck:
    """What one pass over the signed notes and addenda found: counts, and a line per mismatch (ids only)."""

    notes: int = 0
    addenda: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        checked = f"checked {self.notes} notes and {self.addenda} addenda"
        if not self.mismatches:
            return f"{checked}: all match"
        count = len(self.mismatches)
        return f"{checked}: {count} mismatch{'' if count == 1 else 'es'}"


def check_hashes(*, chunk_size: int = 2000, on_mismatch: Callable[[str], None] | None = None) -> HashCheck:
    """Every signed note, then every addendum, in id order, recomputed against its stored hash.

    Streams in chunks (a server-side cursor on PostgreSQL), so memory stays flat however
    many notes there are; an addendum loads only its note's hash, not the note's text.
    ``on_mismatch`` hears of each mismatch as it is found.
    """
    from apps.visits.services import addendum_content, content_hash, note_content

    check = HashCheck()

    def found(label: str) -> None:
        line = f"{label}: content does not match its signed hash"
        check.mismatches.append(line)
        if on_mismatch:
            on_mismatch(line)

    # Any trace of a signature counts, so a signed row turned back into a "draft" is still checked.
    signed = VisitNote.objects.filter(~Q(status=NoteStatus.DRAFT) | Q(signed_at__isnull=False) | ~Q(content_hash=""))
    for note in signed.order_by("pk").iterator(chunk_size=chunk_size):
        check.notes += 1
        if content_hash(note_content(note)) != note.content_hash:
            found(f"visit note #{note.pk}")
    addenda = (Addendum.objects.select_related("note").order_by("pk")
               .only("note__content_hash", "author_id", "reason", "text", "treatment_minutes", "signed_at",
                     "content_hash"))
    for addendum in addenda.iterator(chunk_size=chunk_size):
        check.addenda += 1
        if content_hash(addendum_content(addendum)) != addendum.content_hash:
            found(f"addendum #{addendum.pk} (note #{addendum.note_id})")
    return check


def hash_mismatches() -> list[str]:
    """One line per signed note or addendum whose stored hash no longer matches its content."""
    return check_hashes().mismatches
