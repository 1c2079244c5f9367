"""The real moving parts: a task through the broker to a worker process, mail over SMTP."""

import os
import re

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.ops.models import Heartbeat
from apps.ops.tasks import record_heartbeat
from tests import realparts
from tests.factories import UserFactory


@pytest.mark.redis
@pytest.mark.worker
def test_a_task_sent_through_redis_is_run_by_a_real_worker(celery_worker):
    assert celery_worker.broker_url.startswith("redis")
    before = timezone.now()

    record_heartbeat.delay(name="probe")

    beat = realparts.wait_for(lambda: Heartbeat.objects.filter(name="probe").first(), message="the probe's heartbeat")
    assert beat.seen_at >= before


@pytest.mark.worker
def test_the_embedded_file_system_broker_reaches_a_worker_too(transactional_db, monkeypatch):
    from celery import Celery

    # Celery prefers the CELERY_BROKER_URL variable to any configured URL; CI sets it to Redis.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    with realparts.celery_worker(broker_url="filesystem://") as worker:
        # A producer of our own, on the same folders as the worker.
        options = {
            key: str(worker.var_dir / name)
            for key, name in [("data_folder_in", "broker"), ("data_folder_out", "broker"),
                              ("control_folder", "broker-control")]
        }
        for folder in options.values():
            os.makedirs(folder, exist_ok=True)
        producer = Celery(broker="filesystem://", set_as_current=False)  # leave our tasks on our app
        producer.conf.broker_transport_options = options
        producer.send_task("apps.ops.tasks.record_heartbeat", kwargs={"name": "probe"}, queue=worker.queue)

        realparts.wait_for(lambda: Heartbeat.objects.filter(name="probe").exists(), message="the probe's heartbeat")


@pytest.mark.smtp
@pytest.mark.django_db
def test_a_password_reset_email_is_delivered_over_smtp_and_its_link_works(
    client, smtp_server, django_capture_on_commit_callbacks
):
    user = UserFactory(username="alex", email="alex@clinic.test", role="therapist")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "ALEX@clinic.test"})
    assert response.status_code == 302

    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == "alex@clinic.test"
    assert "alex" not in message["Subject"].lower()  # no personal data in subjects
    link = re.search(r"http://testserver(/accounts/password-reset/\S+/)", message.get_payload()).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    new_password = "A-new-long-passphrase"
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("A-new-long-passphrase")


@pytest.mark.smtp
@pytest.mark.django_db
def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, smtp_server):
    response = client.post("/accounts/password-reset/", {"email": "nobody@clinic.test"}, follow=True)

    assert response.status_code == 200
    assert "Check your e-mail" in response.content.decode()
    assert smtp_server.messages == []
    assert not User.objects.exists()


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.smtp
def test_the_worker_delivers_queued_mail_over_smtp(transactional_db, client, smtp_relay):
    UserFactory(username="sam", email="sam@clinic.test", role="front_desk")
    with realparts.celery_worker(EMAIL_URL=smtp_relay.email_url):
        response = client.post("/accounts/password-reset/", {"email": "sam@clinic.test"})
        assert response.status_code == 302
        realparts.wait_for(lambda: smtp_relay.messages, message="the reset e-mail at the SMTP server")
    assert [m["To"] for m in smtp_relay.messages] == ["sam@clinic.test"]
