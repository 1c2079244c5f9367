"""Writes of plans of care and visit notes: one service per action, used by admin, API and tasks.

The rules a signature enforces live here first (the admin and the database say the same):
a note is written for a visit that happened, by a therapist or (daily notes only) an
assistant, on the patient's open plan; signing asks for the signer's password again and
their one-time code when they use two-factor sign-in; a signed note never changes, and
corrections are signed addenda.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import confirm_identity
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Program
from apps.scheduling.models import Appointment, AppointmentStatus
from apps.scheduling.services import complete_appointment
from apps.visits import codes, prefill, signals
from apps.visits.models import (
    REPORT_KINDS,
    THERAPIST_ONLY_KINDS,
    Addendum,
    Certification,
    DiagnosisCode,
    NoteKind,
    NoteStatus,
    PlanDiagnosis,
    PlanGoal,
    PlanOfCare,
    PlanStatus,
    VisitNote,
)
from hipclinic.zones import clinic_zone, local_date

CONTENT_FIELDS = ("subjective", "objective", "assessment", "plan")
SOAP_LABELS = {"subjective": "Subjective", "objective": "Objective", "assessment": "Assessment", "plan": "Plan"}


# ---------------------------------------------------------------------------- plans of care


def _is_therapist(user: User) -> bool:
    return user.has_role(Role.THERAPIST)


def diagnosis_rows(diagnoses) -> list[tuple[str, str]]:
    """Checked (code, description) pairs: ICD-10-CM codes, each once; the curated text when none is given."""
    rows, seen, problems = [], set(), []
    curated = dict(DiagnosisCode.objects.values_list("code", "description"))
    for entry in diagnoses:
        code, description = (entry["code"], entry.get("description", "")) if isinstance(entry, dict) else entry
        code = codes.normalise_icd10(str(code or ""))
        if not codes.is_icd10cm(code):
            problems.append(f"{code or '(empty)'} is not an ICD-10-CM code (a letter, two characters, "
                            f"then optionally a dot and up to four more, e.g. M16.11).")
            continue
        if code in seen:
            problems.append(f"{code} is listed twice.")
            continue
        seen.add(code)
        description = (description or "").strip() or curated.get(code, "")
        if not description:
            problems.append(f"Describe {code}: it is not on the clinic's list of codes.")
            continue
        rows.append((code, description[:200]))
    if problems:
        raise ValidationError({"diagnoses": problems})
    if not rows:
        raise ValidationError({"diagnoses": "A plan of care needs at least one diagnosis."})
    return rows


def goal_rows(goals) -> list[dict]:
    rows, problems = [], []
    for goal in goals:
        description = (goal.get("description") or "").strip()
        measure, target = goal.get("measure") or "", goal.get("target")
        if not description:
            problems.append("Each goal needs a description.")
            continue
        if target is not None and not measure:
            problems.append(f"“{description}”: a target needs the outcome measure it is a score of.")
            continue
        if measure and target is not None:
            from apps.assessments import scoring

            info = scoring.info(measure)
            if not info.minimum <= float(target) <= info.maximum:
                problems.append(f"“{description}”: {info.label} scores run from {info.minimum} to {info.maximum}.")
                continue
        rows.append({"description": description[:300], "measure": measure, "target": target})
    if problems:
        raise ValidationError({"goals": problems})
    return rows


def create_plan(*, patient: Patient, therapist: User, created_by: User, visits_per_week: int, duration_weeks: int,
                diagnoses, goals=(), started_on: date | None = None, referral: Referral | None = None,
                program: Program | None = None, treatment: str = "", instance: PlanOfCare | None = None) -> PlanOfCare:
    """Open a patient's plan of care (one open plan per patient); ``instance``: the unsaved row to write (admin)."""
    if not _is_therapist(created_by):
        raise ValidationError("Only a therapist writes a plan of care.")
    if not _is_therapist(therapist):
        raise ValidationError({"therapist": "The plan's therapist must be a therapist."})
    plan = instance or PlanOfCare()
    plan.patient, plan.therapist, plan.created_by = patient, therapist, created_by
    plan.visits_per_week, plan.duration_weeks = visits_per_week, duration_weeks
    plan.started_on = started_on or local_date(clinic_zone())
    plan.referral, plan.program, plan.treatment = referral, program, treatment
    _check_plan(plan)
    diagnosis_list, goal_list = diagnosis_rows(diagnoses), goal_rows(goals)
    if PlanOfCare.objects.filter(patient=patient, status=PlanStatus.OPEN).exists():
        raise ValidationError({"patient": "This patient already has an open plan of care: update it, or "
                                          "discharge it before starting another."})
    plan._history_user = created_by
    try:
        with transaction.atomic():
            plan.save()
            _write_children(plan, diagnosis_list, goal_list, changed_by=created_by)
    except IntegrityError:
        raise ValidationError({"patient": "This patient already has an open plan of care."}) from None
    return plan


def update_plan(*, plan: PlanOfCare, changed_by: User, diagnoses=None, goals=None, **fields) -> PlanOfCare:
    """Change an open plan (frequency, duration, program, treatment, therapist, diagnoses, goals), with history."""
    if not _is_therapist(changed_by):
        raise ValidationError("Only a therapist changes a plan of care.")
    if not plan.is_open:
        raise ValidationError("This plan was discharged: open a new plan for a new episode.")
    allowed = {"visits_per_week", "duration_weeks", "program", "treatment", "therapist", "started_on", "referral"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(plan, name, value)
    if "therapist" in fields and not _is_therapist(plan.therapist):
        raise ValidationError({"therapist": "The plan's therapist must be a therapist."})
    _check_plan(plan)
    diagnosis_list = diagnosis_rows(diagnoses) if diagnoses is not None else None
    goal_list = goal_rows(goals) if goals is not None else None
    plan._history_user = changed_by
    with transaction.atomic():
        plan.save()
        _write_children(plan, diagnosis_list, goal_list, changed_by=changed_by)
    return plan


EARLIEST_PLAN_START = date(1901, 1, 1)
PLAN_START_AHEAD = timedelta(days=365)


def plan_start_problem(day: date) -> str | None:
    """Why a plan cannot start on ``day`` (the clock adds weeks and days to it: the calendar's ends would overflow)."""
    latest = local_date(clinic_zone()) + PLAN_START_AHEAD
    if not EARLIEST_PLAN_START <= day <= latest:
        return f"Enter a date from 1 Jan 1901 to {latest:%d %b %Y} (a year from today)."
    return None


def _check_plan(plan: PlanOfCare) -> None:
    plan.full_clean(exclude=["created_by", "patient", "therapist"])
    problem = plan_start_problem(plan.started_on)
    if problem:
        raise ValidationError({"started_on": problem})
    if plan.program_id and plan.program.patient_id != plan.patient_id:
        raise ValidationError({"program": "This program is another patient's."})
    if plan.referral_id and plan.referral.patient_id != plan.patient_id:
        raise ValidationError({"referral": "This referral is another patient's."})


def _write_children(plan: PlanOfCare, diagnoses, goals, *, changed_by: User) -> None:
    if diagnoses is not None:
        for row in plan.diagnoses.all():
            row._history_user = changed_by
            row.delete()
        for position, (code, description) in enumerate(diagnoses):
            row = PlanDiagnosis(plan=plan, code=code, description=description, position=position)
            row._history_user = changed_by
            row.save()
    if goals is not None:
        for row in plan.goals.all():
            row._history_user = changed_by
            row.delete()
        for position, goal in enumerate(goals):
            row = PlanGoal(plan=plan, position=position, **goal)
            row._history_user = changed_by
            row.save()


def record_certification(*, plan: PlanOfCare, signed_on: date, clinician: str, recorded_by: User) -> Certification:
    """Record the referring clinician's signature (the first certification or a re-certification)."""
    if not recorded_by.has_role(Role.THERAPIST, Role.FRONT_DESK, Role.CLINIC_MANAGER):
        raise ValidationError("Your role does not record certifications.")
    if not plan.is_open:
        raise ValidationError("This plan was discharged.")
    clinician = (clinician or "").strip()
    if not clinician:
        raise ValidationError({"clinician": "Name the clinician who signed."})
    today = local_date(clinic_zone())
    if signed_on > today:
        raise ValidationError({"signed_on": "A signature date cannot be in the future."})
    if signed_on < plan.started_on:
        raise ValidationError({"signed_on": "The signature predates the plan."})
    latest = plan.certifications.order_by("-signed_on").first()
    if latest and signed_on < latest.signed_on:
        raise ValidationError({"signed_on": f"The last certification was signed on {latest.signed_on:%d %b %Y}."})
    certification = Certification(plan=plan, signed_on=signed_on, clinician=clinician[:200], recorded_by=recorded_by)
    certification._history_user = recorded_by
    certification.save()
    return certification


# ---------------------------------------------------------------------------- notes


def open_plan(patient_id: int) -> PlanOfCare | None:
    return PlanOfCare.objects.filter(patient_id=patient_id, status=PlanStatus.OPEN).first()


def start_note(*, appointment: Appointment, author: User, kind: str = NoteKind.DAILY,
               now: datetime | None = None) -> VisitNote:
    """Start the note of a visit that has happened, pre-filled; one note per appointment."""
    now = now or timezone.now()
    _check_author(author, kind)
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        raise ValidationError({"appointment": f"This appointment was {appointment.get_status_display().lower()}: "
                                              f"there is no visit to write up."})
    if appointment.start > now or appointment.status == AppointmentStatus.BOOKED:
        raise ValidationError({"appointment": "This visit has not happened yet: check the patient in first."})
    plan = open_plan(appointment.patient_id)
    if plan is None:
        raise ValidationError({"appointment": "This patient has no open plan of care: a therapist writes one first."})
    if VisitNote.objects.filter(appointment=appointment).exists():
        raise ValidationError({"appointment": "This visit already has a note."})
    note = VisitNote(appointment=appointment, patient_id=appointment.patient_id, plan_of_care=plan, kind=kind,
                     author=author, **prefill.prefill(appointment=appointment, plan=plan, kind=kind))
    note._history_user = author
    try:
        with transaction.atomic():
            note.save()
    except IntegrityError:
        raise ValidationError({"appointment": "This visit already has a note."}) from None
    return note


def _check_author(author: User, kind: str) -> None:
    if kind not in NoteKind.values:
        raise ValidationError({"kind": f"{kind!r} is not a kind of note."})
    if author.has_role(Role.THERAPIST):
        return
    if author.has_role(Role.ASSISTANT):
        if kind in THERAPIST_ONLY_KINDS:
            raise ValidationError({"kind": f"An assistant writes daily notes; a therapist writes the "
                                           f"{NoteKind(kind).label.lower()}."})
        return
    raise ValidationError("Only therapists and assistants write visit notes.")


def save_note(*, note: VisitNote, edited_by: User, **content) -> VisitNote:
    """Change a draft's text, kind or treatment minutes; only its author, only before signing."""
    _check_draft(note, edited_by)
    unknown = set(content) - {*CONTENT_FIELDS, "treatment_minutes", "kind", "goal_review"}
    if unknown:
        raise ValidationError(f"These cannot be changed: {', '.join(sorted(unknown))}.")
    if "kind" in content and content["kind"] != note.kind:
        _check_author(edited_by, content["kind"])
        if content["kind"] in REPORT_KINDS and not note.goal_review:
            # Now a progress report or discharge summary: it reviews the plan's goals.
            content["goal_review"] = prefill.goal_review(note.plan_of_care, day=prefill.visit_day(note.appointment))
    if "treatment_minutes" in content:
        content["treatment_minutes"] = _checked_minutes(content["treatment_minutes"], appointment=note.appointment)
    for name, value in content.items():
        setattr(note, name, value)
    note.full_clean(exclude=["appointment", "patient", "plan_of_care", "author"])
    note._history_user = edited_by
    note.save()
    return note


def _checked_minutes(rows, *, appointment: Appointment | None = None) -> list[dict]:
    """Known codes with 1-240 minutes each, and in all no more minutes than the visit lasted."""
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ValidationError({"treatment_minutes": 'A list of {"code": ..., "minutes": ...} rows.'})
    rows = [{"code": str(row.get("code", "")).strip(), "minutes": row.get("minutes")} for row in rows]
    problems = codes.minutes_problems(rows)
    if problems:
        raise ValidationError({"treatment_minutes": list(problems.values())})
    if appointment is not None and appointment.start and appointment.end:
        length = int((appointment.end - appointment.start).total_seconds() // 60)
        total = sum(row["minutes"] for row in rows)
        if total > length:
            raise ValidationError({"treatment_minutes": f"{total} minutes in all, but the visit lasted {length} "
                                                        f"minutes: a note bills no more time than the visit had."})
    return rows


def _check_draft(note: VisitNote, user: User) -> None:
    if note.is_signed:
        raise ValidationError("This note is signed and locked: add an addendum instead.")
    if note.author_id != user.pk:
        raise ValidationError("Only the note's author changes or signs a draft.")


def discard_draft(*, note: VisitNote, by: User) -> None:
    """Throw away an unsigned draft (e.g. started as the wrong kind); signed notes are kept for ever."""
    _check_draft(note, by)
    note._history_user = by
    note.delete()


def note_content(note: VisitNote) -> dict:
    """What a signature covers, in a fixed shape (the content hash is over its JSON)."""
    return {
        "note": note.pk, "kind": note.kind, "patient": note.patient_id, "appointment": note.appointment_id,
        "plan_of_care": note.plan_of_care_id, "author": note.author_id,
        **{name: getattr(note, name) for name in CONTENT_FIELDS},
        "goal_review": note.goal_review, "treatment_minutes": note.treatment_minutes,
        "signed_by": note.signed_by_id, "signed_at": note.signed_at.isoformat() if note.signed_at else None,
    }


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sign_problems(note: VisitNote, signer: User, now: datetime) -> None:
    """Why ``signer`` may not sign ``note`` now (raised), checked before the identity and again under the lock."""
    _check_draft(note, signer)
    _check_author(signer, note.kind)
    problems = {name: f"{SOAP_LABELS[name]} is empty." for name in CONTENT_FIELDS if not getattr(note, name).strip()}
    if problems:
        raise ValidationError(problems)
    if note.appointment.status not in (AppointmentStatus.COMPLETED, AppointmentStatus.CHECKED_IN):
        raise ValidationError({"appointment": f"This appointment is {note.appointment.get_status_display().lower()}: "
                                              f"there is no visit to sign for."})
    if note.appointment.start > now:
        raise ValidationError({"appointment": "This visit is in the future."})
    if not note.plan_of_care.is_open:
        raise ValidationError("The plan of care was discharged.")
    _checked_minutes(note.treatment_minutes, appointment=note.appointment)


def _locked(note: VisitNote) -> VisitNote:
    return VisitNote.objects.select_for_update().select_related("appointment", "plan_of_care").get(pk=note.pk)


def sign_note(*, note: VisitNote, signer: User, password: str, code: str = "", request=None,
              now: datetime | None = None) -> VisitNote:
    """Sign and lock a draft: its author, with their password (and code); an assistant's then waits for co-signature.

    A visit still checked in is completed by the signature (the desk may not have checked the patient out).
    The note's own problems are reported before the password and code are checked (a code is single-use), and
    the identity is checked outside the transaction, so that a wrong attempt stays counted towards the lockout.
    """
    now = now or timezone.now()
    _sign_problems(VisitNote.objects.select_related("appointment", "plan_of_care").get(pk=note.pk), signer, now)
    confirm_identity(user=signer, password=password, code=code, request=request)
    with transaction.atomic():
        note = _locked(note)
        _sign_problems(note, signer, now)  # again, under the lock: a second tab may have signed it meanwhile
        if note.appointment.status == AppointmentStatus.CHECKED_IN:
            # Signing the visit's note ends the visit, if the desk has not checked the patient out yet.
            complete_appointment(appointment=note.appointment, changed_by=signer)
        note.signed_by, note.signed_at = signer, now
        note.status = NoteStatus.AWAITING_COSIGNATURE if signer.has_role(Role.ASSISTANT) else NoteStatus.SIGNED
        note.content_hash = content_hash(note_content(note))
        note._history_user = signer
        note.save()
        if note.kind == NoteKind.DISCHARGE:
            plan = note.plan_of_care
            plan.status, plan.discharged_on = PlanStatus.DISCHARGED, local_date(clinic_zone(), now)
            plan._history_user = signer
            plan.save()
        signals.note_signed.send(sender=VisitNote, note=note)
    return note


def _cosign_problems(note: VisitNote, therapist: User) -> None:
    if note.author_id == therapist.pk:
        raise ValidationError("You cannot co-sign your own note.")
    if not _is_therapist(therapist):
        raise ValidationError("Only a therapist co-signs.")
    if note.status == NoteStatus.DRAFT:
        raise ValidationError("The assistant has not signed this note yet.")
    if note.status != NoteStatus.AWAITING_COSIGNATURE:
        raise ValidationError("This note does not need a co-signature.")


def cosign_note(*, note: VisitNote, therapist: User, password: str, code: str = "", request=None,
                now: datetime | None = None) -> VisitNote:
    """A therapist (not the note's author) co-signs an assistant's signed note."""
    now = now or timezone.now()
    _cosign_problems(VisitNote.objects.get(pk=note.pk), therapist)
    confirm_identity(user=therapist, password=password, code=code, request=request)
    with transaction.atomic():
        note = _locked(note)
        _cosign_problems(note, therapist)
        note.cosigned_by, note.cosigned_at, note.status = therapist, now, NoteStatus.SIGNED
        note._history_user = therapist
        note.save()
    return note


def addendum_content(addendum: Addendum) -> dict:
    content = {"note": addendum.note_id, "note_hash": addendum.note.content_hash,
               "author": addendum.author_id, "reason": addendum.reason, "text": addendum.text,
               "signed_at": addendum.signed_at.isoformat()}
    if addendum.treatment_minutes is not None:
        content["treatment_minutes"] = addendum.treatment_minutes
    return content


def current_minutes(note: VisitNote) -> list[dict]:
    """The note's minutes per code as last corrected: the latest addendum that corrects them, else the note's."""
    corrected = [a for a in note.addenda.all() if a.treatment_minutes is not None]
    return max(corrected, key=lambda a: (a.signed_at, a.pk)).treatment_minutes if corrected else note.treatment_minutes


def add_addendum(*, note: VisitNote, author: User, reason: str, text: str, password: str, code: str = "",
                 request=None, now: datetime | None = None, treatment_minutes: list | None = None) -> Addendum:
    """Add a signed correction or late entry to a signed note (``treatment_minutes``: the corrected list)."""
    now = now or timezone.now()
    if not author.has_role(Role.THERAPIST, Role.ASSISTANT):
        raise ValidationError("Only therapists and assistants add to visit notes.")
    if not note.is_signed:
        raise ValidationError("This note is not signed yet: change the draft instead.")
    reason, text = (reason or "").strip(), (text or "").strip()
    problems = {}
    if not reason:
        problems["reason"] = "Say why the addendum is needed."
    if not text:
        problems["text"] = "Write the addendum."
    if problems:
        raise ValidationError(problems)
    if treatment_minutes is not None:
        treatment_minutes = _checked_minutes(treatment_minutes, appointment=note.appointment)
    addendum = Addendum(note=note, author=author, reason=reason[:200], text=text, signed_at=now,
                        treatment_minutes=treatment_minutes)
    addendum.full_clean(exclude=["content_hash", "note", "author"])
    confirm_identity(user=author, password=password, code=code, request=request)
    addendum.content_hash = content_hash(addendum_content(addendum))
    with transaction.atomic():
        addendum.save()  # never updated after this (the trigger refuses it)
        signals.addendum_signed.send(sender=Addendum, addendum=addendum)
    return addendum
