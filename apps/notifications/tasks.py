from celery import shared_task
from django.utils import timezone

from apps.notifications import reminders, services


# No autoretry and no countdown: a failed send is rescheduled in its row (send_after)
# and the sweep queues it again when due, so a retry never waits in the broker.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_outbox_email(outbox_id: int) -> None:
    services.deliver(outbox_id=outbox_id)  # claims the row; a sent row is left alone


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_outbox_batch(outbox_ids: list[int]) -> None:
    services.deliver_batch(outbox_ids=outbox_ids)  # one SMTP connection; each row claimed on its own


@shared_task
def dispatch_outbox() -> None:
    services.dispatch_due()


@shared_task
def queue_due_reminders() -> None:
    try:
        reminders.run_due_scans(timezone.now())
    finally:
        services.dispatch_due()  # what the scans that worked queued goes out now
