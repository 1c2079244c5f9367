"""The reminder scans run by beat and by ``manage.py send_due_reminders``.

Each app that sends scheduled e-mail registers its scans in its ``AppConfig.ready()``
(``register_scan``), so this app never imports the apps above it. A scan is a function
``(now) -> int`` that queues the reminders of one outbox kind that are due at ``now`` and
returns how many it queued. It must be set-based and idempotent (its rows have
deterministic keys), because it runs every few minutes over the same window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction

log = logging.getLogger("hipclinic.outbox")

Scan = Callable[[datetime], int]

# Outbox kind -> its scan, in the order the apps registered them.
REMINDER_SCANS: dict[str, Scan] = {}


def register_scan(kind: str, scan: Scan) -> None:
    """Add one kind's scan; registering the same kind again replaces it (a reloaded app)."""
    REMINDER_SCANS[kind] = scan


class ScanFailed(Exception):
    """One or more scans raised; the others still ran and ``counts`` holds what they queued."""

    def __init__(self, failed: list[str], counts: dict[str, int]):
        super().__init__(f"reminder scans failed: {', '.join(failed)}")
        self.failed, self.counts = failed, counts


def run_due_scans(now: datetime) -> dict[str, int]:
    """Run every registered scan once, each in its own transaction; returns {kind: emails queued}."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    for kind, scan in REMINDER_SCANS.items():
        try:
            with transaction.atomic():
                counts[kind] = scan(now)
        except Exception as error:  # one broken scan must not hold back the others' reminders
            # The class only, never the text or a traceback: either can quote a patient's data.
            log.error("reminder scan failed kind=%s error=%s", kind, type(error).__name__)
            failed.append(kind)
            continue
        log.info("reminder scan kind=%s queued=%d", kind, counts[kind])
    if failed:
        raise ScanFailed(failed, counts)
    return counts
