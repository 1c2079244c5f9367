"""Writes of home programs: one path per action, each checking everything before it writes.

``save_program`` creates or edits a program and its items (never its status);
``activate_program``, ``pause_program``, ``stop_program`` and ``complete_program`` are the
only ways its status changes. The admin, the API, the progression engine and the demo all
call these. Each builds the program's facts from the values about to be written
(``program_problems``: dose limits from ``dosing.py``, safety from ``safety.py``), refuses
with every reason by field, and only then writes, in one transaction.
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
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from apps.patients.selectors import latest_referral
from apps.prescriptions import dosing, safety
from apps.prescriptions.models import (
    Exercise,
    PatientLink,
    Program,
    ProgramItem,
    ProgramStatus,
    ProgramVersion,
)
from apps.prescriptions.signals import program_activated

LINK_SALT = "hipclinic.patient-program-link"


# ---------------------------------------------------------------------------- checking before writing


def program_facts(program: Program, items: list[ProgramItem]) -> safety.ProgramFacts:
    """The safety facts of ``program`` with ``items`` (saved or not), as the rules need them."""
    referral = latest_referral(program.patient)
    cause = referral.cause if referral else None
    return safety.ProgramFacts(
        # An open positive screen, or a decision to refer on (do not treat here), blocks activation.
        red_flag_unresolved=program.patient.referrals.exclude(red_flags=[]).filter(
            red_flag_decision__in=["", "referred_on"]).exists(),
        referral_cause=cause,
        surgery_date=referral.surgery_date if referral else None,
        start_date=program.start_date,
        surgeon_clearance=program.surgeon_clearance,
        clearance_weeks=clinic_policy().transpsoas_clearance_weeks,
        items=[
            safety.ItemFacts(position=n, exercise=item.exercise.name,
                             loaded_or_resisted=item.exercise.loaded_or_resisted or bool(item.load),
                             caution=item.exercise.caution_for(cause),
                             caution_acknowledged=item.caution_acknowledged)
            for n, item in enumerate(items, start=1)
        ],
    )


def stored_items(program: Program) -> list[ProgramItem]:
    return list(program.items.select_related("exercise").order_by("order", "id")) if program.pk else []


def program_problems(program: Program, items: list[ProgramItem], *, active: bool) -> dict[str, list[str]]:
    """Every reason ``program`` with ``items`` may not be saved (or, ``active``, be the patient's active one).

    Items are numbered as the therapist sees them; each item's own dose limits, a retired
    exercise newly added, and the safety rules for an active program.
    """
    problems: dict[str, list[str]] = {}
    try:
        program.full_clean(exclude=["therapist"] if program.therapist_id is None else None)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            problems.setdefault(name, []).extend(messages)
    if problems.get("patient") or not program.patient_id:
        return problems
    already_prescribed = {row.exercise_id for row in stored_items(program)}  # a retired exercise may stay on
    seen: set[int] = set()
    for n, item in enumerate(items, start=1):
        prefix = f"Item {n} ({item.exercise.name})"
        if not item.exercise.is_active and item.exercise_id not in already_prescribed:
            problems.setdefault("items", []).append(f"{prefix} is retired and can no longer be prescribed.")
        if item.exercise_id in seen:
            problems.setdefault("items", []).append(f"{prefix} is on the program twice: keep one row per exercise.")
        seen.add(item.exercise_id)
        dose = dosing.dose_problems(dosing.limits_of(item.exercise), sets=item.sets, dose_low=item.dose_low,
                                    dose_high=item.dose_high, load=item.load)
        for message in (message for messages in dose.values() for message in messages):
            problems.setdefault("items", []).append(f"{prefix}: {message.removeprefix(item.exercise.name + ': ')}")
    if active:
        if not items:
            problems.setdefault("items", []).append("An active program needs at least one exercise.")
        for name, messages in safety.activation_problems(program_facts(program, items)).items():
            problems.setdefault(name, []).extend(messages)
    return problems


def raise_problems(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError(problems)


# ---------------------------------------------------------------------------- saving a program


def save_program(*, program: Program, items: list[ProgramItem] | None, by: User) -> Program:
    """Create or edit a program and, when ``items`` is given, make them its items; all or nothing.

    The status is never written here (see ``activate_program`` and friends). An edit of an
    active program must keep it safe, and a change of its items makes a new version. Items
    are matched to the program's rows by id, then by exercise, and updated in place, so the
    patient's session logs and progression proposals stay attached to them.
    """
    with transaction.atomic():
        if program.pk:
            stored = Program.objects.select_for_update().get(pk=program.pk)
            program.status, program.activated_at = stored.status, stored.activated_at
        else:
            program.status = ProgramStatus.DRAFT
        new_items = stored_items(program) if items is None else list(items)
        for item in new_items:
            item.program = program
        raise_problems(program_problems(program, new_items, active=program.status == ProgramStatus.ACTIVE))
        program._history_user = by
        program.save()
        if items is not None:
            _write_items(program, new_items)
        record_version(program, by=by)
    return program


def _write_items(program: Program, items: list[ProgramItem]) -> None:
    rows = {row.pk: row for row in program.items.all()}
    by_exercise = {row.exercise_id: row.pk for row in rows.values()}
    kept: set[int] = set()
    for position, item in enumerate(items, start=1):
        pk = item.pk if item.pk in rows else by_exercise.get(item.exercise_id)
        item.pk = pk if pk is not None and pk not in kept else None
        item.program = program
        item.order = item.order or position
        item.save()
        kept.add(item.pk)
    program.items.exclude(pk__in=kept).delete()


def duplicate_program(*, program: Program, by: User) -> Program:
    """A new draft with the same items (retired exercises left out), starting today, for a new block of weeks."""
    copy = Program(patient=program.patient, therapist=by, source_assessment=program.source_assessment,
                   weeks=program.weeks, sessions_per_week=program.sessions_per_week, goals=program.goals)
    items = [ProgramItem(exercise=item.exercise, order=item.order, sets=item.sets, dose_low=item.dose_low,
                         dose_high=item.dose_high, load=item.load, side=item.side, notes=item.notes)
             for item in stored_items(program) if item.exercise.is_active]
    return save_program(program=copy, items=items, by=by)


# ---------------------------------------------------------------------------- status


def activate_program(*, program: Program, by: User) -> Program:
    """Make a draft (or paused) program the patient's active one; refuses what safety forbids.

    The patient's other active program is completed, follow-ups are planned (the
    ``program_activated`` signal) and the patient is e-mailed their program once.
    """
    from apps.prescriptions.emails import queue_home_program

    with transaction.atomic():
        program = Program.objects.select_for_update().select_related("patient").get(pk=program.pk)
        if program.status not in (ProgramStatus.DRAFT, ProgramStatus.PAUSED):
            raise ValidationError({"status": f"A {program.get_status_display().lower()} program cannot be activated."})
        raise_problems(program_problems(program, stored_items(program), active=True))
        for other in Program.objects.select_for_update().filter(
                patient=program.patient, status=ProgramStatus.ACTIVE).exclude(pk=program.pk):
            _set_status(other, ProgramStatus.COMPLETED, by=by, reason="completed: another program was activated")
        program.activated_at = timezone.now()
        _set_status(program, ProgramStatus.ACTIVE, by=by, reason="activated")
        record_version(program, by=by)
        program_activated.send(sender=Program, program=program, by=by)
        queue_home_program(program)
    return program


# Status changes other than activation: (statuses it may start from, status it leads to, history reason).
_MOVES = {
    "pause": ({ProgramStatus.ACTIVE}, ProgramStatus.PAUSED, "paused"),
    "stop": ({ProgramStatus.ACTIVE, ProgramStatus.PAUSED}, ProgramStatus.STOPPED, "stopped"),
    "complete": ({ProgramStatus.ACTIVE, ProgramStatus.PAUSED}, ProgramStatus.COMPLETED, "completed"),
}


def _move(program: Program, move: str, *, by: User) -> Program:
    allowed, to_status, reason = _MOVES[move]
    with transaction.atomic():
        program = Program.objects.select_for_update().get(pk=program.pk)
        if program.status not in allowed:
            names = " or ".join(sorted(ProgramStatus(s).label.lower() for s in allowed))
            raise ValidationError({"status": f"Only an {names} program can be {reason}; this one is "
                                             f"{program.get_status_display().lower()}."})
        _set_status(program, to_status, by=by, reason=reason)
    return program


def pause_program(*, program: Program, by: User) -> Program:
    """Hold an active program (no reminders, no logging) until it is activated again."""
    return _move(program, "pause", by=by)


def stop_program(*, program: Program, by: User) -> Program:
    """End a program early (for example, the patient stopped treatment)."""
    return _move(program, "stop", by=by)


def complete_program(*, program: Program, by: User) -> Program:
    """End a program that has run its course."""
    return _move(program, "complete", by=by)


def _set_status(program: Program, status: str, *, by: User | None, reason: str) -> None:
    program.status = status
    program._history_user = by
    program._change_reason = reason
    program.save(update_fields=["status", "activated_at", "updated_at"])


# ---------------------------------------------------------------------------- versions


def snapshot(program: Program) -> list[dict]:
    return [
        {"exercise": item.exercise.slug, "name": item.exercise.name, "order": item.order, "sets": item.sets,
         "dose_low": item.dose_low, "dose_high": item.dose_high,
         "load": None if item.load is None else str(item.load), "side": item.side, "notes": item.notes,
         "dose": item.dose_text}
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


# ---------------------------------------------------------------------------- start from an assessment


# A program started from an assessment offers the suggested rung and its two neighbours.
STARTING_EXERCISES = 3


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


# ---------------------------------------------------------------------------- exercises


def save_exercise(*, exercise: Exercise, by: User) -> Exercise:
    """Add an exercise to the library or change one (retire it with ``is_active=False``; never deleted)."""
    exercise.full_clean()
    exercise._history_user = by
    exercise.save()
    return exercise


# ---------------------------------------------------------------------------- patient link


def create_patient_link(*, patient: Patient, by: User, days: int | None = None) -> PatientLink:
    """A new link for the patient; older open links are revoked (one working link at a time)."""
    days = days or clinic_policy().program_link_days
    with transaction.atomic():
        PatientLink.objects.filter(patient=patient, revoked_at__isnull=True).update(revoked_at=timezone.now())
        return PatientLink.objects.create(patient=patient, created_by=by,
                                          expires_at=timezone.now() + timedelta(days=days))


def open_patient_link(*, patient: Patient, by: User) -> PatientLink:
    """The patient's newest working link, or a new one if none works (for e-mails that carry it)."""
    link = PatientLink.objects.filter(patient=patient, revoked_at__isnull=True).order_by("-created_at").first()
    return link if link is not None and link.is_open else create_patient_link(patient=patient, by=by)


def revoke_patient_links(*, links, by: User) -> int:
    """Stop the given links working at once; returns how many were still open."""
    return links.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def patient_link_url(link: PatientLink) -> str:
    token = signing.dumps({"link": link.pk}, salt=LINK_SALT)
    return settings.SITE_URL + reverse("prescriptions:patient-program", kwargs={"token": token})


def link_from_token(token: str) -> PatientLink | None:
    """The open link a token names; None when tampered, expired or revoked."""
    try:
        data = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("link"), int):
        return None
    link = PatientLink.objects.select_related("patient").filter(pk=data["link"]).first()
    return link if link is not None and link.is_open and not link.patient.is_archived else None


def current_program(patient) -> Program | None:
    return (Program.objects.filter(patient=patient, status=ProgramStatus.ACTIVE)
            .prefetch_related("items__exercise").order_by("-start_date", "-id").first())


def load_as_decimal(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))
