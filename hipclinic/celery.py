"""The Celery app: ``celery -A hipclinic worker`` and ``celery -A hipclinic beat``.

Configuration comes from Django settings (``CELERY_*``). Periodic tasks are all declared
in ``BEAT_SCHEDULE`` below, each with the reason it runs when it does.
"""

import logging
import os
import time

from celery import Celery, signals
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hipclinic.settings")

app = Celery("hipclinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

BEAT_SCHEDULE = {
    # Lets /healthz and operators see that a worker is consuming tasks; a minute is
    # fine-grained enough to notice a dead worker and cheap (one UPDATE).
    "ops.heartbeat": {"task": "apps.ops.tasks.record_heartbeat", "schedule": 60.0},
    # The outbox sweep: queues rows whose send task never reached the broker, retries
    # that have come due (their due time lives in the row, not in a countdown) and rows
    # held by a worker that died. Every 30 s keeps a retry's delay close to its backoff;
    # one indexed query when there is nothing to do. A sweep not run within 25 s is
    # dropped rather than piled up behind a stopped worker: the next one does its work.
    "notifications.dispatch_outbox": {
        "task": "apps.notifications.tasks.dispatch_outbox", "schedule": 30.0, "options": {"expires": 25},
    },
    # The webhook sweep, the same design as the outbox's: queues deliveries whose task never
    # reached the broker, retries that came due (30 s, 1, 2, 4 ... min, their due time in the
    # row) and deliveries held by a worker that died. Every 30 s keeps the first retry close
    # to its 30 s; one indexed query when there is nothing to do; a late run is dropped.
    "webhooks.dispatch_webhooks": {
        "task": "apps.webhooks.tasks.dispatch_webhooks", "schedule": 30.0, "options": {"expires": 25},
    },
    # Reminder scans (every kind registered by the apps, e.g. 24 h before each appointment): every
    # 5 minutes, so a reminder goes out between 24 h and 23 h 55 min ahead; the scans
    # are idempotent (one key per reminder), so a late or doubled run sends nothing twice.
    "notifications.queue_due_reminders": {
        "task": "apps.notifications.tasks.queue_due_reminders", "schedule": 300.0, "options": {"expires": 240},
    },
    # The signed-note hash check (manage.py verify_signed_notes): weekly, early on Sunday in the
    # clinic's zone (CELERY_TIMEZONE), when no one is signing; a mismatch is an ERROR log line
    # with ids only. It reads every signed note once (5-8 s per 100k notes measured here), so
    # not more often; a run not started within 6 hours is dropped, the next week's does the work.
    "visits.verify_signed_notes": {
        "task": "apps.visits.tasks.verify_signed_notes",
        "schedule": crontab(day_of_week="sunday", hour=3, minute=17), "options": {"expires": 6 * 3600},
    },
    # The dashboard's stored figures (apps.reports.services.refresh_figures): the last 35 closed days
    # every quarter hour, so a late entry (a no-show marked the next morning) shows within 15
    # minutes; under a second at full size. Every day at night (a minute's work at full size,
    # measured by bench/reports.py), when nobody reads them. A run not started in time is dropped:
    # the next one does the work, and until then the dashboard counts the missing days live.
    "reports.refresh_figures": {
        "task": "apps.reports.tasks.refresh_stored_figures", "schedule": 900.0, "options": {"expires": 840},
    },
    "reports.refresh_figures_full": {
        "task": "apps.reports.tasks.refresh_stored_figures", "kwargs": {"full": True},
        "schedule": crontab(hour=2, minute=43), "options": {"expires": 3 * 3600},
    },
    # FHIR bulk exports: queues again a job whose task never arrived or went silent for 10
    # minutes (a killed worker), and deletes finished exports' files once they expire.
    "fhir.sweep_exports": {
        "task": "apps.fhir.tasks.sweep_exports", "schedule": 300.0, "options": {"expires": 240},
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE

task_log = logging.getLogger("hipclinic.task")
_started: dict[str, float] = {}


@signals.worker_init.connect
def _make_broker_folders(**_kwargs):
    # Kombu's file-system transport needs its folders to exist before it is used.
    from django.conf import settings

    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)


@signals.worker_ready.connect
def _first_heartbeat(sender=None, **_kwargs):
    # /healthz shows a live worker at once instead of after beat's first minute.
    sender.app.send_task("apps.ops.tasks.record_heartbeat")


@signals.task_prerun.connect
def _task_started(task_id=None, **_kwargs):
    _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **_kwargs):
    """One line per task: name, id, outcome, duration; never arguments or results."""
    started = _started.pop(task_id, None)
    elapsed = (time.monotonic() - started) * 1000 if started else 0.0
    task_log.info("task=%s id=%s state=%s %.0fms", task.name, task_id, state, elapsed)


@signals.task_failure.connect
def _task_failed(task_id=None, sender=None, exception=None, **_kwargs):
    # Only the exception's class: its text may quote an address or a name.
    task_log.warning("task=%s id=%s error=%s", sender.name, task_id, type(exception).__name__)


@signals.task_retry.connect
def _task_retried(request=None, reason=None, sender=None, **_kwargs):
    reason_name = type(reason).__name__ if isinstance(reason, BaseException) else "retry"
    task_log.info("task=%s id=%s retry reason=%s", sender.name, request.id, reason_name)
