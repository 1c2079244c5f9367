from celery import shared_task

from apps.webhooks import services


# No autoretry and no countdown: a failed delivery is rescheduled in its row (send_after)
# and the sweep queues it again when due, so a retry never waits in the broker.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_webhook(delivery_id: int) -> None:
    services.deliver(delivery_id=delivery_id)  # claims the row; a delivered row is left alone


@shared_task
def dispatch_webhooks() -> None:
    services.dispatch_due()
