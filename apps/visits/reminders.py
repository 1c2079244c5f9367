"""The therapists' daily digest: what the plan-of-care clock says is due, and the notes running late.

A reminder scan (``apps.notifications.reminders``), registered in ``VisitsConfig.ready()``:
beat runs it every five minutes. From the clinic's ``therapist_digest_time`` (clinic time)
on, each therapist with something to do gets one e-mail that clinic day, keyed
``therapist-digest:<user id>:<date>`` so a second run, or a concurrent twin, inserts
nothing. It lists, for the plans the therapist owns, the clock's items due within a week
or overdue (none when the clinic keeps no clock), their own drafts and their plans' drafts
still unsigned after ``unsigned_note_hours``, and their plans' assistant notes not
co-signed after ``cosign_hours``. An assistant gets one too when a draft of their own is
late (the author is the one who signs). Nothing is sent when there is nothing to list.

Staff e-mail at the hour the clinic chose for it: the quiet hours, which protect patients'
evenings from reminders, do not hold it. Like the therapist alerts it names patients by
record number only, never by name, and carries no clinical content (no diagnosis, no
note text): the address may be read on a phone or a shared screen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.urls import reverse

from apps.notifications.models import OutboxEmail
from apps.notifications.services import build_email, queue_many
from apps.ops.policy import clinic_policy
from apps.visits import clock, selectors
from apps.visits.models import PlanOfCare, PlanStatus, VisitNote
from hipclinic.zones import clinic_zone, long_date

KIND_THERAPIST_DIGEST = "therapist-digest"
# Clock items due within a week are listed (and overdue ones): far enough to book a report
# visit or chase a signature, near enough to act on. The day page lists the same.
DIGEST_AHEAD = timedelta(days=7)


def digest_key(user_id: int, day: date) -> str:
    return f"{KIND_THERAPIST_DIGEST}:{user_id}:{day.isoformat()}"


def _late_notes(now: datetime):
    """The late drafts and notes awaiting co-signature (the selectors' rule), lean: no addenda."""
    fields = ("patient", "appointment", "author", "plan_of_care__therapist")
    return [query.prefetch_related(None).select_related(*fields).order_by("appointment__start", "pk")
            for query in (selectors.unsigned_notes(now=now), selectors.awaiting_cosignature(now=now))]


def _note_row(note: VisitNote, zone, *, recipient_id: int) -> dict:
    return {
        "record_number": note.patient.record_number,
        "kind": note.get_kind_display(),
        "visit_day": note.appointment.start.astimezone(zone).date(),
        "author": "" if note.author_id == recipient_id else note.author.get_full_name() or note.author.username,
        "url": settings.SITE_URL + reverse("admin:visits_visitnote_change", args=[note.pk]),
    }


def queue_therapist_digests(now: datetime) -> int:
    """Once a clinic day, from the digest time: each therapist's due plan items and late notes.

    Eight queries at most whatever the number of plans and notes (no query before the digest
    time): the open plans with patient and therapist, their visits, report notes and
    certifications, the late drafts, the notes awaiting co-signature, the keys already
    queued, one INSERT.
    """
    zone = clinic_zone()
    policy = clinic_policy()
    local = now.astimezone(zone)
    if local.time() < policy.therapist_digest_time:
        return 0
    today = local.date()
    recipients = {}
    lists = defaultdict(lambda: {"due": [], "unsigned": [], "cosign": []})

    if selectors.clock_rules() is not None:
        plans = list(PlanOfCare.objects.filter(status=PlanStatus.OPEN).select_related("patient", "therapist")
                     .order_by("patient__record_number", "pk"))
        due = selectors.due_for_plans(plans, today=today)
        for plan in plans:
            for item in clock.due_by(due.get(plan.pk, []), today + DIGEST_AHEAD):
                lists[plan.therapist_id]["due"].append({
                    "record_number": plan.patient.record_number, "text": item.text, "overdue": item.overdue,
                    "due_on": item.due_on or today,
                })
                recipients[plan.therapist_id] = plan.therapist

    unsigned, awaiting = _late_notes(now)
    for note in unsigned:
        # The author, and the plan's therapist (who answers for the plan) when someone else wrote it.
        for user in {note.author_id: note.author, note.plan_of_care.therapist_id: note.plan_of_care.therapist}.values():
            lists[user.pk]["unsigned"].append(_note_row(note, zone, recipient_id=user.pk))
            recipients[user.pk] = user
    for note in awaiting:
        therapist = note.plan_of_care.therapist
        lists[therapist.pk]["cosign"].append(_note_row(note, zone, recipient_id=therapist.pk))
        recipients[therapist.pk] = therapist

    wanted = {digest_key(user.pk, today): user for user in recipients.values() if user.is_active and user.email}
    if not wanted:
        return 0
    existing = set(OutboxEmail.objects.filter(key__in=list(wanted)).values_list("key", flat=True))
    day_url = settings.SITE_URL + reverse("chart:day")
    rows = []
    for key, user in wanted.items():
        if key in existing:
            continue
        items = lists[user.pk]
        items["due"].sort(key=lambda row: (not row["overdue"], row["due_on"], row["record_number"]))
        count = sum(len(listed) for listed in items.values())
        rows.append(build_email(
            key=key,
            kind=KIND_THERAPIST_DIGEST,
            to_email=user.email,
            subject=f"Your day: {count} plan-of-care item{'s' if count != 1 else ''} due or late "
                    f"({long_date(today)})",
            text_template="emails/therapist_digest.txt",
            html_template="emails/therapist_digest.html",
            context={"first_name": user.first_name or user.username, "today": today, "day_url": day_url,
                     "due": items["due"], "unsigned": items["unsigned"], "cosign": items["cosign"],
                     "unsigned_hours": policy.unsigned_note_hours, "cosign_hours": policy.cosign_hours},
            send_after=now,
        ))
    return queue_many([row for row in rows if row is not None])

