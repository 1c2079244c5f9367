"""A real HTTP receiver on loopback that checks every delivery's signature, and an endpoint pointing at it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from apps.webhooks import services
from apps.webhooks.events import Event
from apps.webhooks.models import WebhookEndpoint
from tests.visits.conftest import plan_of_care, rota, visit  # noqa: F401  (the visits fixtures, here too)


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    payload: dict
    path: str


@dataclass
class Receiver:
    """Answers each POST with the next status in ``answers`` (then 204), after verifying it with ``secret``."""

    secret: str = ""
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    bad_signatures: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    # While set, each request waits (after it is recorded) until ``release`` is set: a receiver that hangs.
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/hipclinic"

    def events(self) -> list[str]:
        return [item.payload["type"] for item in self.received]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError as error:
                    receiver.bad_signatures.append(str(error))
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.received.append(Received(headers["webhook-id"], headers["webhook-timestamp"], payload,
                                                  self.path))
                if receiver.hold.is_set():
                    receiver.release.wait(timeout=60)
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def endpoint(db, manager, receiver):
    """An active endpoint for every event, at the loopback receiver (allowed by the test settings)."""
    saved = services.save_endpoint(endpoint=WebhookEndpoint(url=receiver.url, events=list(Event.values),
                                                            description="Registry"), by=manager)
    receiver.secret = saved.secret
    return saved


def body_of(delivery) -> dict:
    return json.loads(delivery.body)
