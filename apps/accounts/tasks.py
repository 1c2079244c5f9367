from smtplib import SMTPException

from celery import shared_task

from apps.accounts import services


@shared_task(
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def send_password_reset_email(user_id: int, base_url: str) -> None:
    services.send_password_reset(user_id=user_id, base_url=base_url)
