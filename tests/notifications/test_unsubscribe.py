"""One-click unsubscribe: the link in every patient e-mail withdraws consent."""

import json

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus
from tests.factories import PatientFactory
from tests.notifications.helpers import queue_patient_email

pytestmark = pytest.mark.django_db


def path_of(patient) -> str:
    return services.unsubscribe_url(patient).removeprefix("http://127.0.0.1:8000")


def test_opening_the_link_only_asks_for_confirmation(client):
    patient = PatientFactory()

    response = client.get(path_of(patient))

    assert response.status_code == 200
    assert "Stop e-mails" in response.content.decode()
    patient.refresh_from_db()
    assert patient.email_consent  # link scanners only GET: they must not unsubscribe anyone


def test_pressing_the_button_withdraws_consent_and_records_when(client):
    patient = PatientFactory()
    before = timezone.now()

    response = client.post(path_of(patient))  # the page's form posts without a CSRF token

    assert response.status_code == 200
    assert "no more e-mails" in response.content.decode()
    patient.refresh_from_db()
    assert not patient.email_consent
    assert patient.email_consent_changed_at >= before


def test_a_mail_clients_one_click_post_withdraws_consent():
    client = Client(enforce_csrf_checks=True)  # mail clients send no CSRF cookie or token
    patient = PatientFactory()

    response = client.post(
        path_of(patient), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    patient.refresh_from_db()
    assert not patient.email_consent


def test_an_email_already_queued_is_not_sent_after_unsubscribing(client, mailoutbox):
    patient = PatientFactory()
    row = queue_patient_email(patient)  # queued, its task not run yet (no commit in this test)

    client.post(path_of(patient))
    services.deliver(outbox_id=row.pk)

    assert mailoutbox == []
    row.refresh_from_db()
    assert row.status == OutboxStatus.SKIPPED


def test_a_second_visit_says_the_emails_are_already_stopped(client):
    patient = PatientFactory(email_consent=False)

    response = client.get(path_of(patient))

    assert response.status_code == 200
    assert "You are not receiving our e-mails" in response.content.decode()


def another_patients_id(token: str, patient) -> str:
    payload = signing.b64_encode(json.dumps({"patient": patient.pk + 1}, separators=(",", ":")).encode()).decode()
    return payload + token[token.index(":"):]


@pytest.mark.parametrize("mangle", [
    lambda token, _: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature changed
    another_patients_id,                                                          # payload changed
    lambda token, _: "not-a-token",
])
def test_a_tampered_link_gets_a_clear_page_and_changes_nothing(client, mangle):
    patient = PatientFactory()
    PatientFactory()  # the one the changed payload names
    token = services.unsubscribe_token(patient)

    for method in (client.get, client.post):
        response = method(f"/email/unsubscribe/{mangle(token, patient)}/")
        assert response.status_code == 400
        assert "We could not recognise this link" in response.content.decode()

    patient.refresh_from_db()
    assert patient.email_consent


def test_a_link_signed_for_another_purpose_is_refused(client):
    patient = PatientFactory()
    token = signing.Signer(salt="hipclinic.some-other-link").sign_object({"patient": patient.pk})

    assert client.post(f"/email/unsubscribe/{token}/").status_code == 400
    patient.refresh_from_db()
    assert patient.email_consent


def test_a_link_for_a_patient_who_no_longer_exists_is_not_found(client):
    patient = PatientFactory()
    path = path_of(patient)
    OutboxEmail.objects.all().delete()
    patient.delete()

    response = client.post(path)

    assert response.status_code == 404
    assert "We could not recognise this link" in response.content.decode()
