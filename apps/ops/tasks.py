import socket

from celery import shared_task
from django.utils import timezone

from apps.ops.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    defaults = {"seen_at": timezone.now(), "hostname": socket.gethostname()}
    Heartbeat.objects.update_or_create(name=name, defaults=defaults)
