import pytest
from django.utils import timezone

from apps.ops.models import Heartbeat


@pytest.mark.django_db
def test_healthz_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"], body["broker"]) == ("ok", "ok", "ok")
    assert body["worker"] == {"last_seen": None, "fresh": False}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_does_not(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_a_recent_worker_heartbeat(client):
    Heartbeat.objects.create(name="worker", seen_at=timezone.now())

    assert client.get("/healthz").json()["worker"]["fresh"] is True


@pytest.mark.django_db
def test_healthz_needs_no_login_and_shows_no_data(client):
    body = client.get("/healthz").json()
    assert set(body) == {"status", "database", "broker", "worker"}
