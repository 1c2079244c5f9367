"""The reminder scans run by beat and by ``manage.py send_due_reminders``.

Each entry maps an outbox kind to a function ``(now) -> int`` that queues the reminders
of that kind that are due at ``now`` and returns how many it queued. A scan must be
set-based and idempotent (its rows have deterministic keys), because it runs every few
minutes over the same window. Later issues add their kinds here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger("hipclinic.outbox")

REMINDER_SCANS: dict[str, str] = {
    "appointment-reminder": "apps.scheduling.emails.queue_appointment_reminders",
    "weekly-plan": "apps.followups.reminders.queue_weekly_plans",
    "missed-session": "apps.followups.reminders.queue_missed_session_nudges",
    "therapist-alert": "apps.followups.reminders.queue_therapist_alerts",
    "followup-due": "apps.followups.reminders.queue_followup_due",
}


class ScanFailed(Exception):
    """One or more scans raised; the others still ran and ``counts`` holds what they queued."""

    def __init__(self, failed: list[str], counts: dict[str, int]):
        super().__init__(f"reminder scans failed: {', '.join(failed)}")
        self.failed, self.counts = failed, counts


def run_due_scans(now: datetime) -> dict[str, int]:
    """Run every registered scan once, each in its own transaction; returns {kind: emails queued}."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    for kind, path in REMINDER_SCANS.items():
        try:
            with transaction.atomic():
                counts[kind] = import_string(path)(now)
        except Exception as error:  # one broken scan must not hold back the others' reminders
            # The class only, never the text or a traceback: either can quote a patient's data.
            log.error("reminder scan failed kind=%s error=%s", kind, type(error).__name__)
            failed.append(kind)
            continue
        log.info("reminder scan kind=%s queued=%d", kind, counts[kind])
    if failed:
        raise ScanFailed(failed, counts)
    return counts
