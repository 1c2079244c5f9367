"""HTTPS deliveries verify the receiver's certificate against the URL's host (no insecure fallback)."""

import ssl
import subprocess

import pytest

from apps.webhooks import services
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl, as on the machine)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_receiver(receiver, certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    return receiver


def https_endpoint(receiver, manager):
    url = receiver.url.replace("http://", "https://")
    endpoint = services.save_endpoint(endpoint=WebhookEndpoint(url=url, events=["appointment.booked"]), by=manager)
    receiver.secret = endpoint.secret
    return endpoint


def test_a_receiver_whose_certificate_is_not_trusted_gets_nothing(tls_receiver, manager,
                                                                 django_capture_on_commit_callbacks):
    https_endpoint(tls_receiver, manager)

    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 1})

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_error == "SSLCertVerificationError"
    assert tls_receiver.received == []


def test_a_trusted_certificate_receives_the_delivery_over_https(tls_receiver, certificate, manager, monkeypatch,
                                                                django_capture_on_commit_callbacks):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # OpenSSL's default trust store, for this test
    https_endpoint(tls_receiver, manager)

    with django_capture_on_commit_callbacks(execute=True):
        services.record_event(event="appointment.booked", data={"appointment_id": 1})

    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    assert [item.payload["data"] for item in tls_receiver.received] == [{"appointment_id": 1}]
    assert tls_receiver.bad_signatures == []
