"""Feeds the pure progression engine from the database and applies its proposals."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.followups import progression
from apps.followups.models import ProgressionProposal, ProposalStatus, SessionLogItem
from apps.ops.policy import clinic_policy
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramStatus

FACT_FIELDS = ["slug", "name", "ladder_rank", "dose_type", "min_sets", "max_sets", "min_dose", "max_dose",
               "load_unit", "max_load", "default_dose_low", "default_sets", "default_dose_high", "muscle_bias"]


def facts(exercise: Exercise) -> progression.ExerciseFacts:
    return progression.ExerciseFacts.from_mapping({name: getattr(exercise, name) for name in FACT_FIELDS})


def _dose(item: ProgramItem) -> progression.Dose:
    return progression.Dose(item.sets, item.dose_low, item.dose_high, None if item.load is None else float(item.load))


def _as_json(dose: progression.Dose) -> dict:
    return {"sets": dose.sets, "dose_low": dose.dose_low, "dose_high": dose.dose_high, "load": dose.load}


def refresh_proposals(*, program: Program) -> list[ProgressionProposal]:
    """One proposal per item whose logs call for a change (pending ones are replaced)."""
    if program.status != ProgramStatus.ACTIVE:
        return []
    exercises = list(Exercise.objects.active().ladder())
    ladder = [facts(exercise) for exercise in exercises]
    by_slug = {exercise.slug: exercise for exercise in exercises}
    latest = program.versions.order_by("-number").first()
    since = latest.created_at if latest else program.created_at
    logs_by_item: dict[int, list[progression.ItemLog]] = {}
    # Only sessions at the current dose count (logged after the last change of the items).
    for row in (SessionLogItem.objects.filter(log__program=program, log__created_at__gte=since)
                .select_related("log").order_by("log__session_date", "log__id")):
        logs_by_item.setdefault(row.item_id, []).append(progression.ItemLog(
            date=row.log.session_date, sets_done=row.sets_done, last_set_amount=row.last_set_amount,
            pain_during=row.pain_during, next_morning=row.next_morning or None))
    created = []
    with transaction.atomic():
        ProgressionProposal.objects.filter(program=program, status=ProposalStatus.PENDING).delete()
        for item in program.items.select_related("exercise"):
            state = progression.ItemState(item_id=item.pk, exercise=facts(item.exercise), dose=_dose(item),
                                          logs=logs_by_item.get(item.pk, []))
            proposal = progression.propose(state, ladder=ladder)
            if proposal.action == "keep":
                continue
            new_dose = proposal.new_dose or _dose(item)
            created.append(ProgressionProposal.objects.create(
                program=program, item=item, action=proposal.action, current=_as_json(_dose(item)),
                proposed=_as_json(new_dose), reason=proposal.reason[:500],
                new_exercise=by_slug.get(proposal.new_exercise.slug) if proposal.new_exercise else None,
            ))
        if clinic_policy().progression_auto_apply:
            for proposal in created:
                try:
                    with transaction.atomic():
                        apply_proposal(proposal=proposal, by=None)
                except ValidationError:
                    # A rule the new dose would break (a caution to acknowledge on the next rung):
                    # it waits for a therapist, and the patient's session is saved all the same.
                    continue
    return created


@transaction.atomic
def apply_proposal(*, proposal: ProgressionProposal, by) -> ProgramItem:
    """Apply one proposal: the item's new dose (or next rung) becomes a new program version, and the patient is told.

    The change goes through ``prescriptions.save_program``, so the exercise's limits and the
    safety rules hold as for any other edit; a refused change leaves the proposal pending.
    """
    # Only the proposal row: PostgreSQL refuses FOR UPDATE on the nullable side of the outer join to item.
    proposal = ProgressionProposal.objects.select_for_update(of=("self",)).select_related(
        "item__program__patient").get(pk=proposal.pk)
    if proposal.status != ProposalStatus.PENDING or proposal.item is None:
        raise ValidationError({"status": "This proposal has already been decided."})
    program = proposal.item.program
    items = prescriptions.stored_items(program)
    item = next(row for row in items if row.pk == proposal.item_id)
    if proposal.new_exercise is not None:
        item.exercise = proposal.new_exercise
        item.caution_acknowledged = False  # a new exercise's caution must be read afresh
    dose = proposal.proposed
    item.sets, item.dose_low, item.dose_high = dose["sets"], dose["dose_low"], dose["dose_high"]
    item.load = None if dose["load"] is None else round(prescriptions.load_as_decimal(dose["load"]), 1)
    latest = program.versions.order_by("-number").values_list("number", flat=True).first()
    prescriptions.save_program(program=program, items=items, by=by)
    proposal.status, proposal.decided_by, proposal.decided_at = ProposalStatus.APPLIED, by, timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    version = program.versions.order_by("-number").first()
    if version is not None and version.number != latest:
        from apps.followups import emails

        emails.queue_progression_notice(version)
    return item


def dismiss_proposal(*, proposal: ProgressionProposal, by) -> ProgressionProposal:
    if proposal.status != ProposalStatus.PENDING:
        raise ValidationError({"status": "This proposal has already been decided."})
    proposal.status, proposal.decided_by, proposal.decided_at = ProposalStatus.DISMISSED, by, timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    return proposal
