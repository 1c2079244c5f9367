"""Writes of home programs: dose rules, safety rules, versions, patient links.

Dose and safety rules are checked by the models on save (so every way in obeys them);
forms, serializers and the admin call the same functions first to show the reasons
next to the fields.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.prescriptions import safety
from apps.prescriptions.models import (
    DoseType,
    Exercise,
    LoadUnit,
    PatientLink,
    Program,
    ProgramItem,
    ProgramStatus,
    ProgramVersion,
)
from apps.prescriptions.signals import program_activated

LINK_SALT = "hipclinic.patient-program-link"
DOSE_WORDS = {DoseType.REPETITIONS: "repetitions", DoseType.HOLD_SECONDS: "seconds' hold",
              DoseType.STEPS: "steps", DoseType.MINUTES: "minutes"}


# ---------------------------------------------------------------------------- doses


def dose_problems(item: ProgramItem) -> dict[str, list[str]]:
    """Why this item's dose is not allowed for its exercise, by field; empty when it is."""
    exercise = item.exercise
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    if not exercise.is_active and _exercise_is_new_to(item):
        add("exercise", f"{exercise.name} is retired and can no longer be prescribed.")
    if item.sets is None or not exercise.min_sets <= item.sets <= exercise.max_sets:
        add("sets", f"{exercise.name}: sets must be {exercise.min_sets} to {exercise.max_sets}.")
    unit = DOSE_WORDS[DoseType(exercise.dose_type)]
    for name in ("dose_low", "dose_high"):
        value = getattr(item, name)
        if value is None or not exercise.min_dose <= value <= exercise.max_dose:
            add(name, f"{exercise.name}: {exercise.min_dose} to {exercise.max_dose} {unit}.")
    if item.dose_low is not None and item.dose_high is not None and item.dose_low > item.dose_high:
        add("dose_high", "The top of the range must not be below the bottom.")
    if item.load is not None:
        if exercise.load_unit == LoadUnit.NONE:
            add("load", f"{exercise.name} takes no load.")
        elif item.load <= 0:
            add("load", "A load must be above zero (leave it empty for none).")
        elif exercise.max_load is not None and item.load > exercise.max_load:
            add("load", f"{exercise.name}: at most {exercise.max_load:g} {exercise.get_load_unit_display()}.")
    return problems


def _exercise_is_new_to(item: ProgramItem) -> bool:
    """A retired exercise stays on programs that already had it, but cannot be added."""
    if item.pk is not None:
        return not ProgramItem.objects.filter(pk=item.pk, exercise_id=item.exercise_id).exists()
    # A new row for an exercise the program already has (save_program replaces the rows).
    return item.program_id is None or not ProgramItem.objects.filter(
        program_id=item.program_id, exercise_id=item.exercise_id).exists()


def raise_on_dose_problems(item: ProgramItem) -> None:
    problems = dose_problems(item)
    if problems:
        raise ValidationError(problems)


def describe_dose(item) -> str:
    exercise = item.exercise
    unit = DOSE_WORDS[DoseType(exercise.dose_type)]
    amount = f"{item.dose_low}" if item.dose_low == item.dose_high else f"{item.dose_low}-{item.dose_high}"
    text = f"{item.sets} set{'s' if item.sets != 1 else ''} of {amount} {unit}"
    if exercise.per_side and item.side == "both":
        text += " on each side"
    elif item.side in ("left", "right"):
        text += f" on the {item.side} side"
    if item.load:
        text += f", {item.load:g} {exercise.get_load_unit_display()}" if exercise.load_unit == LoadUnit.KG \
            else f", band level {item.load:g}"
    return text


# ---------------------------------------------------------------------------- safety


def latest_referral(program: Program):
    return program.patient.referrals.order_by("-referral_date", "-id").first()


def program_facts(program: Program, items: list[ProgramItem] | None = None) -> safety.ProgramFacts:
    referral = latest_referral(program)
    cause = referral.cause if referral else None
    if items is None:  # an unsaved program has no items yet (and no related manager to ask)
        items = list(program.items.select_related("exercise")) if program.pk else []
    return safety.ProgramFacts(
        # An open positive screen, or a decision to refer on (do not treat here), blocks activation.
        red_flag_unresolved=program.patient.referrals.exclude(red_flags=[]).filter(
            red_flag_decision__in=["", "referred_on"]).exists(),
        referral_cause=cause,
        surgery_date=referral.surgery_date if referral else None,
        start_date=program.start_date,
        surgeon_clearance=program.surgeon_clearance,
        items=[
            safety.ItemFacts(position=n, exercise=item.exercise.name,
                             loaded_or_resisted=item.exercise.loaded_or_resisted or bool(item.load),
                             caution=item.exercise.caution_for(cause),
                             caution_acknowledged=item.caution_acknowledged)
            for n, item in enumerate(items, start=1)
        ],
    )


def activation_problems(program: Program, items: list[ProgramItem] | None = None) -> dict[str, list[str]]:
    if program.patient.is_archived:
        return {"patient": ["This patient is archived: restore the record first."]}
    return safety.activation_problems(program_facts(program, items))


def raise_if_item_unsafe(item: ProgramItem) -> None:
    """One item's own safety (its caution, its load after surgery), whatever its siblings."""
    facts = program_facts(item.program, [item])
    problems = safety.activation_problems(
        safety.ProgramFacts(red_flag_unresolved=False, referral_cause=facts.referral_cause,
                            surgery_date=facts.surgery_date, start_date=facts.start_date,
                            surgeon_clearance=facts.surgeon_clearance, items=facts.items)
    )
    if problems:
        raise ValidationError(problems)


def raise_if_unsafe(program: Program, items: list[ProgramItem] | None = None) -> None:
    problems = activation_problems(program, items)
    if problems:
        raise ValidationError(problems)


# ---------------------------------------------------------------------------- versions


def snapshot(program: Program) -> list[dict]:
    return [
        {"exercise": item.exercise.slug, "name": item.exercise.name, "order": item.order, "sets": item.sets,
         "dose_low": item.dose_low, "dose_high": item.dose_high,
         "load": None if item.load is None else str(item.load), "side": item.side, "notes": item.notes,
         "dose": describe_dose(item)}
        for item in program.items.select_related("exercise").order_by("order", "id")
    ]


def describe_changes(before: list[dict], after: list[dict]) -> list[str]:
    old = {row["exercise"]: row for row in before}
    new = {row["exercise"]: row for row in after}
    changes = [f"Added {row['name']}: {row['dose']}." for slug, row in new.items() if slug not in old]
    changes += [f"Removed {row['name']}." for slug, row in old.items() if slug not in new]
    for slug in old.keys() & new.keys():
        if old[slug]["dose"] != new[slug]["dose"]:
            changes.append(f"{new[slug]['name']}: {old[slug]['dose']} -> {new[slug]['dose']}.")
        elif old[slug]["notes"] != new[slug]["notes"]:
            changes.append(f"{new[slug]['name']}: new notes.")
    return changes or ["Order changed."]


def record_version(program: Program, *, by: User | None) -> ProgramVersion | None:
    """Snapshot the items of an active program if they changed since the last version."""
    if program.status != ProgramStatus.ACTIVE:
        return None
    items = snapshot(program)
    latest = program.versions.order_by("-number").first()
    if latest is not None and [_without_dose(r) for r in latest.items] == [_without_dose(r) for r in items]:
        return None
    changes = ["First version."] if latest is None else describe_changes(latest.items, items)
    return ProgramVersion.objects.create(program=program, number=(latest.number + 1) if latest else 1,
                                         items=items, changes=changes, created_by=by)


def _without_dose(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "dose"}


@transaction.atomic
def activate_program(*, program: Program, by: User) -> Program:
    """Make a draft (or paused) program the patient's active one; refuses what safety forbids."""
    program = Program.objects.select_for_update().get(pk=program.pk)
    if program.status not in (ProgramStatus.DRAFT, ProgramStatus.PAUSED):
        raise ValidationError({"status": f"A {program.get_status_display().lower()} program cannot be activated."})
    if not program.items.exists():
        raise ValidationError({"items": "Add at least one exercise first."})
    raise_if_unsafe(program)
    Program.objects.filter(patient=program.patient, status=ProgramStatus.ACTIVE).exclude(pk=program.pk).update(
        status=ProgramStatus.COMPLETED)
    program.status = ProgramStatus.ACTIVE
    program._history_user = by
    program.save()
    record_version(program, by=by)
    program_activated.send(sender=Program, program=program, by=by)
    return program


def save_program(*, program: Program, items: list[ProgramItem] | None, by: User) -> Program:
    """Save a program and (when given) set its items, all or nothing; versions active changes.

    An item for an exercise the program already has updates that row in place, so the
    patient's session logs and progression proposals stay attached to it.
    """
    with transaction.atomic():
        program.full_clean()
        if items is not None:
            for item in items:
                item.program = program
                item.full_clean(exclude=["program"])
            if program.status == ProgramStatus.ACTIVE:
                raise_if_unsafe(program, items)
        program._history_user = by
        program._items_pending = items is not None
        program.save()
        if items is not None:
            # Rows are matched by exercise and updated in place (an exercise retired since it
            # was prescribed may stay: see _exercise_is_new_to); rows left over go last.
            by_exercise = {row.exercise_id: row.pk for row in program.items.all()}
            kept: set[int] = set()
            for position, item in enumerate(items, start=1):
                existing = by_exercise.get(item.exercise_id)
                item.pk = existing if existing is not None and existing not in kept else None
                item.program = program
                item.order = item.order or position
                item.save()
                kept.add(item.pk)
            program.items.exclude(pk__in=kept).delete()
            program._items_pending = False
            if program.status == ProgramStatus.ACTIVE:
                raise_if_unsafe(program)
        record_version(program, by=by)
    return program


def duplicate_program(*, program: Program, by: User) -> Program:
    """A new draft with the same items, starting today (e.g. for a new block of weeks)."""
    with transaction.atomic():
        copy = Program.objects.create(
            patient=program.patient, therapist=by, source_assessment=program.source_assessment,
            weeks=program.weeks, sessions_per_week=program.sessions_per_week, goals=program.goals,
        )
        for item in program.items.select_related("exercise"):
            if item.exercise.is_active:
                ProgramItem.objects.create(
                    program=copy, exercise=item.exercise, order=item.order, sets=item.sets, dose_low=item.dose_low,
                    dose_high=item.dose_high, load=item.load, side=item.side, notes=item.notes,
                )
    return copy


# ---------------------------------------------------------------------------- start from an assessment


def starting_exercises(rung: int | None) -> list[Exercise]:
    """The exercise at the suggested rung and the next easier and harder ones (active only)."""
    ladder = list(Exercise.objects.active().ladder())
    if not ladder:
        return []
    if rung is None:
        rung = ladder[0].ladder_rank
    at = [e for e in ladder if e.ladder_rank == rung][:1] or [min(ladder, key=lambda e: abs(e.ladder_rank - rung))]
    chosen = at[0]
    easier = [e for e in ladder if e.ladder_rank < chosen.ladder_rank][-1:]
    harder = [e for e in ladder if e.ladder_rank > chosen.ladder_rank][:1]
    return [*easier, chosen, *harder]


def items_from_assessment(assessment) -> list[dict]:
    """Initial item values (unsaved) for a program started from ``assessment``."""
    return [
        {"exercise": exercise.pk, "order": n, "sets": exercise.default_sets, "dose_low": exercise.default_dose_low,
         "dose_high": exercise.default_dose_high, "side": "both"}
        for n, exercise in enumerate(starting_exercises(assessment.suggested_rung), start=1)
    ]


# ---------------------------------------------------------------------------- patient link


def create_patient_link(*, patient, by: User, days: int = 90) -> PatientLink:
    """A new link for the patient; older open links are revoked (one working link at a time)."""
    with transaction.atomic():
        PatientLink.objects.filter(patient=patient, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return PatientLink.objects.create(patient=patient, created_by=by,
                                          expires_at=timezone.now() + timedelta(days=days))


def patient_link_url(link: PatientLink) -> str:
    token = signing.dumps({"link": link.pk}, salt=LINK_SALT)
    return settings.SITE_URL + reverse("prescriptions:patient-program", kwargs={"token": token})


def link_from_token(token: str) -> PatientLink | None:
    """The open link a token names; None when tampered, expired or revoked."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    link = PatientLink.objects.select_related("patient").filter(pk=data.get("link")).first()
    return link if link is not None and link.is_open and not link.patient.is_archived else None


def current_program(patient) -> Program | None:
    return (Program.objects.filter(patient=patient, status=ProgramStatus.ACTIVE)
            .prefetch_related("items__exercise").order_by("-start_date", "-id").first())


def load_as_decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))
