"""Reads of plans and notes: the clock's facts, notes waiting on someone, the hash check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import BooleanField, Case, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from apps.ops.policy import clinic_policy
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits import clock
from apps.visits.models import REPORT_KINDS, Addendum, NoteStatus, PlanOfCare, PlanStatus, VisitNote
from hipclinic.zones import clinic_zone, local_date

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
        start = datetime.combine(plan.started_on, datetime.min.time(), tzinfo=zone)
        appointments = list(Appointment.objects.filter(patient_id=plan.patient_id, start__gte=start,
                                                       status__in=VISIT_STATUSES).order_by("start", "id")
                            .values("id", "start", "status"))
    if report_appointment_ids is None:
        report_appointment_ids = set(plan.notes.filter(kind__in=REPORT_KINDS).values_list("appointment_id", flat=True))
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


def visit_hint(appointment: Appointment) -> str:
    """For the front desk: what the clock asks of this visit, as a booking hint only ("" when nothing)."""
    rules = clock_rules()
    if rules is None:
        return ""
    plan = PlanOfCare.objects.filter(patient_id=appointment.patient_id, status=PlanStatus.OPEN).first()
    if plan is None:
        return ""
    facts = plan_facts(plan)
    number = clock.visit_number(facts.visits, appointment.pk)
    if number is None:
        return ""
    for due in clock.due_items(facts, rules, local_date(clinic_zone())):
        if due.what == "progress_report" and due.at_visit == number:
            return f"Progress report due at this visit: book {clinic_policy().report_visit_minutes} minutes."
    return ""


def unsigned_notes(*, now: datetime | None = None) -> QuerySet:
    """Drafts older than the clinic's limit (hours since the note was started)."""
    now = now or timezone.now()
    return notes().filter(status=NoteStatus.DRAFT,
                          created_at__lte=now - timedelta(hours=clinic_policy().unsigned_note_hours))


def awaiting_cosignature(*, now: datetime | None = None) -> QuerySet:
    """Assistants' signed notes not co-signed within the clinic's limit."""
    now = now or timezone.now()
    return notes().filter(status=NoteStatus.AWAITING_COSIGNATURE,
                          signed_at__lte=now - timedelta(hours=clinic_policy().cosign_hours))


def with_lateness(queryset: QuerySet, *, now: datetime | None = None) -> QuerySet:
    """Each note annotated ``is_late``: a draft past the unsigned limit, or an assistant's note past the co-sign one."""
    now = now or timezone.now()
    policy = clinic_policy()
    late = Q(status=NoteStatus.DRAFT, created_at__lte=now - timedelta(hours=policy.unsigned_note_hours)) | Q(
        status=NoteStatus.AWAITING_COSIGNATURE, signed_at__lte=now - timedelta(hours=policy.cosign_hours))
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
               .only("note__content_hash", "author_id", "reason", "text", "signed_at", "content_hash"))
    for addendum in addenda.iterator(chunk_size=chunk_size):
        check.addenda += 1
        if content_hash(addendum_content(addendum)) != addendum.content_hash:
            found(f"addendum #{addendum.pk} (note #{addendum.note_id})")
    return check


def hash_mismatches() -> list[str]:
    """One line per signed note or addendum whose stored hash no longer matches its content."""
    return check_hashes().mismatches
