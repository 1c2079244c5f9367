"""What /healthz reports: can we reach the database and the broker, and is a worker alive."""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.ops.models import Heartbeat


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "not answering"; the probe must not raise
        return False


def broker_ok() -> bool:
    from hipclinic.celery import app

    try:
        if settings.CELERY_BROKER_URL.startswith("filesystem"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
            os.makedirs(folder, exist_ok=True)
            return os.access(folder, os.W_OK)
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            conn.default_channel.client.ping()
            return True
    except Exception:
        return False


def worker_state() -> dict:
    beat = Heartbeat.objects.filter(name="worker").first()
    if beat is None:
        return {"last_seen": None, "fresh": False}
    stale_after = timedelta(seconds=settings.HIPCLINIC_WORKER_STALE_AFTER_SECONDS)
    return {"last_seen": beat.seen_at.isoformat(), "fresh": timezone.now() - beat.seen_at < stale_after}


def report() -> tuple[dict, bool]:
    db, broker = database_ok(), broker_ok()
    body = {
        "status": "ok" if db and broker else "error",
        "database": "ok" if db else "error",
        "broker": "ok" if broker else "error",
    }
    if db:
        body["worker"] = worker_state()
    return body, db and broker
