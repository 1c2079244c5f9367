"""Locust scenario: front-desk staff on the desk pages and API clients, mixed, against hipclinic.

Started by ``tests/load/harness.py`` (``tests/test_load.py`` in CI, ``bench/load.py`` at
full size) with ``LOAD_CONFIG`` naming a JSON file holding ``tests/load/seed.py``'s answer
(user names, the shared password, therapists, kinds, search terms).

Two kinds of simulated user, each signing in as its own staff account:

* ``DeskUser``, a receptionist: signs in on the login page (CSRF), then searches for
  patients, opens one, comes back to the home page (today's schedule), looks at a day's
  schedule, looks up free slots on a patient's booking page and books one of the slots
  shown by pressing its button (a POST with CSRF).
* ``ApiClient``, an integration: gets a token (``POST /api/v1/auth/token/``), then searches
  and reads patients, reads appointments, therapists, the waitlist and free slots, and
  books one of the free slots it was given.

The run has two phases. In the warm-up every simulated user signs in and opens its first
page; the measured run starts for all of them at once when the last has, with Locust's
statistics reset, and lasts ``LOAD_MEASURE_SECONDS``. Sign-ins are kept apart because each
costs a PBKDF2 hash of 1,000,000 iterations (about 0.4 s of CPU, on purpose): fifty of them
at once hold two cores for ten seconds or more, and measured together with the work that
follows they would say more about the hash than about the pages. The warm-up's own figures
and errors are written to ``LOAD_WARM_UP_FILE`` when Locust stops.

The client stands where the clinic's TLS proxy would: it sends ``X-Forwarded-Proto: https``
(the server runs with ``BEHIND_TLS_PROXY=1``, every HTTPS setting left on) and ``Origin`` on
POSTs, as browsers do; its cookie jar sends Secure cookies over the loopback connection,
as a browser on the HTTPS side of the proxy would.

A booking refused because the time is no longer free (someone else booked that therapist,
or the patient has another appointment then: 400 from the API, the form again with the
message on the desk page) is the product's correct answer, not an error: it is recorded
under its own name, ending in ``(refused: overlap)``. Anything else that is not the
expected answer (a 5xx, a redirect to the login page, another 400, a time-out) is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import re
import struct
import time
from datetime import date, datetime, timedelta
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import gevent
from gevent.event import Event
from locust import FastHttpUser, between, events, task
from locust.exception import StopUser

CONFIG = json.loads(Path(os.environ["LOAD_CONFIG"]).read_text(encoding="utf-8")) if "LOAD_CONFIG" in os.environ else {}
# The messages the booking service gives when the time is taken (apps/scheduling/services.py).
OVERLAP_MESSAGES = ("already has an appointment", "Another booking took this time")
REFUSED = " (refused: overlap)"
# How far ahead receptionists and integrations look for a slot, and how many days at a time.
BOOK_AHEAD_DAYS = (1, 40)
SEARCH_DAYS = 4
TIMEOUT = float(os.environ.get("LOAD_TIMEOUT", "30"))
MEASURE_SECONDS = float(os.environ.get("LOAD_MEASURE_SECONDS", "0"))  # 0: until --run-time ends
WARM_UP_LIMIT = 180  # seconds a signed-in user waits for the others before starting anyway

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
PATIENT_LINK = re.compile(r'href="/desk/patients/(\d+)/"')
STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+hipclinic[^"]*\.css)"')
SLOT_BUTTON = re.compile(
    r'name="therapist" value="(\d+)">\s*(?:<input type="hidden" name="kind" value="\d+">)?\s*'
    r'<input type="hidden" name="date" value="([\d-]+)">\s*<input type="hidden" name="start_time" value="([\d:]+)">'
)
_numbers = {"desk": itertools.count(), "api": itertools.count()}


def one_time_code(key_hex: str) -> str:
    """The code an authenticator app shows now for this key (RFC 6238: SHA-1, 30 s steps, 6 digits)."""
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset:offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def clinic_today() -> date:
    return datetime.now(ZoneInfo(CONFIG.get("time_zone", "UTC"))).date()


def search_term() -> str:
    terms = CONFIG["search_terms"]
    pick = random.random()
    if pick < 0.7:
        return random.choice(terms["prefixes"])
    if pick < 0.85:
        return random.choice(terms["full_names"])
    return random.choice(terms["record_numbers"])


def search_window() -> tuple[date, date]:
    first = clinic_today() + timedelta(days=random.randint(*BOOK_AHEAD_DAYS))
    return first, first + timedelta(days=SEARCH_DAYS - 1)


class Opening:
    """The warm-up: each user signs in, then waits until every user has (or has failed to)."""

    def __init__(self):
        self.opened = Event()
        self.started: float | None = None
        self.arrived = 0
        self.figures: dict = {}

    def begin(self) -> None:
        if self.started is None:
            self.started = time.monotonic()

    def arrive(self, environment) -> None:
        self.arrived += 1
        if self.arrived >= environment.parsed_options.num_users and not self.opened.is_set():
            self.figures = {"seconds": time.monotonic() - self.started, **snapshot(environment.stats)}
            environment.stats.reset_all()
            self.opened.set()
            if MEASURE_SECONDS:
                gevent.spawn_later(MEASURE_SECONDS, environment.runner.quit)


def snapshot(stats) -> dict:
    kinds = {
        entry.name: {"requests": entry.num_requests, "failures": entry.num_failures,
                     "p50": entry.get_response_time_percentile(0.5), "p95": entry.get_response_time_percentile(0.95),
                     "max": entry.max_response_time}
        for entry in stats.entries.values() if entry.num_requests
    }
    errors = [{"method": error.method, "name": error.name, "error": str(error.error),
               "occurrences": error.occurrences} for error in stats.errors.values()]
    return {"kinds": kinds, "errors": errors}


OPENING = Opening()


@events.quitting.add_listener
def _write_warm_up(environment, **_kwargs):
    if os.environ.get("LOAD_WARM_UP_FILE"):
        figures = OPENING.figures or {"seconds": None, **snapshot(environment.stats), "unfinished": True}
        Path(os.environ["LOAD_WARM_UP_FILE"]).write_text(json.dumps(figures), encoding="utf-8")


def next_user(kind: str) -> str:
    names = CONFIG[f"{kind}_users"]
    number = next(_numbers[kind])
    if number >= len(names):
        raise StopUser()  # more simulated users than accounts: the harness creates enough
    return names[number]


class ClinicUser(FastHttpUser):
    abstract = True
    default_headers = {"X-Forwarded-Proto": "https"}
    network_timeout = connection_timeout = TIMEOUT

    def on_start(self):
        # The browser's side of the TLS proxy is HTTPS, so Secure cookies (session, CSRF) go along.
        self.client.cookiejar.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
        self.patients: list[int] = []
        OPENING.begin()
        try:
            self.sign_in()
        finally:
            OPENING.arrive(self.environment)
        OPENING.opened.wait(timeout=WARM_UP_LIMIT)
        self.wait()  # one think time first, so that the measured run does not open with everyone clicking at once

    def sign_in(self) -> None:
        raise NotImplementedError

    def expect(self, response, status: int, *, contains: str | None = None) -> bool:
        """Mark the response failed unless it has ``status`` (and ``contains``); True when it passed."""
        if response.status_code != status:
            response.failure(f"status {response.status_code}, expected {status}")
            return False
        if contains is not None and contains not in response.text:
            response.failure(f"answer without {contains!r}")
            return False
        response.success()
        return True

    def origin(self) -> dict:
        return {"Origin": self.host.replace("http://", "https://", 1)}


class DeskUser(ClinicUser):
    """A receptionist on the desk pages."""

    weight = 3
    wait_time = between(1, 4)

    def sign_in(self):
        self.username = next_user("desk")
        with self.client.get("/accounts/login/", name="desk: login page", allow_redirects=False,
                             catch_response=True) as page:
            if not self.expect(page, 200):
                raise StopUser()
            token = CSRF_INPUT.search(page.text).group(1)
        with self.client.post("/accounts/login/", name="desk: sign in", allow_redirects=False, catch_response=True,
                              headers=self.origin(),
                              data={"csrfmiddlewaretoken": token, "username": self.username,
                                    "password": CONFIG["password"]}) as signed_in:
            if signed_in.status_code != 302 or signed_in.headers.get("Location") != "/":
                signed_in.failure(f"sign-in answered {signed_in.status_code}, not a redirect home")
                raise StopUser()
            signed_in.success()
        with self.client.get("/desk/", name="desk: home", allow_redirects=False, catch_response=True) as home:
            if not self.expect(home, 200, contains="</html>"):
                raise StopUser()
            stylesheet = STYLESHEET.search(home.text)
        # A browser fetches the stylesheet once, then keeps it: WhiteNoise serves it, DEBUG off.
        with self.client.get(stylesheet.group(1) if stylesheet else "/static/missing.css", name="static: stylesheet",
                             allow_redirects=False, catch_response=True) as css:
            self.expect(css, 200)

    @task(4)
    def search_patients(self):
        with self.client.get("/desk/patients/", params={"q": search_term()}, name="desk: patient search",
                             allow_redirects=False, catch_response=True) as page:
            if self.expect(page, 200, contains="found for"):
                found = PATIENT_LINK.findall(page.text)
                if found:
                    self.patients = [int(pk) for pk in found[:25]]

    @task(2)
    def open_patient(self):
        if not self.patients:
            return self.search_patients()
        with self.client.get(f"/desk/patients/{random.choice(self.patients)}/", name="desk: patient page",
                             allow_redirects=False, catch_response=True) as page:
            self.expect(page, 200, contains="</html>")

    @task(1)
    def home(self):
        """The desk's home page: today's schedule, which receptionists come back to all day."""
        with self.client.get("/desk/", name="desk: home", allow_redirects=False, catch_response=True) as page:
            self.expect(page, 200, contains="</html>")

    @task(1)
    def day_schedule(self):
        day = clinic_today() + timedelta(days=random.randint(-7, 14))
        with self.client.get(f"/desk/day/{day.isoformat()}/", name="desk: day schedule", allow_redirects=False,
                             catch_response=True) as page:
            self.expect(page, 200, contains="</html>")

    @task(3)
    def look_up_slots_and_book(self):
        if not self.patients:
            return self.search_patients()
        patient = random.choice(self.patients)
        first, last = search_window()
        therapist = random.choice(CONFIG["therapists"]) if random.random() < 0.8 else ""  # or "any therapist"
        url = f"/desk/patients/{patient}/book/"
        query = {"kind": CONFIG["kinds"]["follow_up"], "therapist": therapist, "start_date": first.isoformat(),
                 "end_date": last.isoformat()}
        with self.client.get(url, params=query, name="desk: slot look-up", allow_redirects=False,
                             catch_response=True) as page:
            if not self.expect(page, 200, contains="Free slots"):
                return
            slots = SLOT_BUTTON.findall(page.text)
            token = CSRF_INPUT.search(page.text)
        if not slots or not token:
            return  # nothing free in these days (a weekend): a receptionist would try other dates
        therapist_id, day, start_time = random.choice(slots)
        form = {"csrfmiddlewaretoken": token.group(1), "therapist": therapist_id, "kind": CONFIG["kinds"]["follow_up"],
                "date": day, "start_time": start_time}
        # The slot's button posts to the page's own address, query string included.
        with self.client.post(f"{url}?{urlencode(query)}", data=form,
                              name="desk: book", headers=self.origin(), allow_redirects=False,
                              catch_response=True) as booked:
            if booked.status_code == 302 and booked.headers.get("Location") == f"/desk/patients/{patient}/":
                booked.success()
            elif booked.status_code == 200 and any(text in booked.text for text in OVERLAP_MESSAGES):
                booked.request_meta["name"] = "desk: book" + REFUSED
                booked.success()
            else:
                booked.failure(f"booking answered {booked.status_code} ({booked.headers.get('Location')})")


class ApiClient(ClinicUser):
    """An integration reading the diary and booking through the API with a token."""

    weight = 2
    wait_time = between(0.5, 2)

    def sign_in(self):
        self.username = next_user("api")
        with self.client.post("/api/v1/auth/token/", name="api: token", catch_response=True,
                              json={"username": self.username, "password": CONFIG["password"],
                                    "otp": one_time_code(CONFIG["api_keys"][self.username])}) as answer:
            if not self.expect(answer, 200):
                raise StopUser()
            self.client.auth_header = f"Token {answer.json()['token']}"

    @task(4)
    def search_patients(self):
        with self.client.get("/api/v1/patients/", params={"q": search_term()}, name="api: patient search",
                             catch_response=True) as answer:
            if self.expect(answer, 200):
                found = [row["id"] for row in answer.json()["results"]]
                if found:
                    self.patients = found[:25]

    @task(2)
    def read_patient(self):
        if not self.patients:
            return self.search_patients()
        patient = random.choice(self.patients)
        with self.client.get(f"/api/v1/patients/{patient}/", name="api: patient", catch_response=True) as answer:
            self.expect(answer, 200)
        with self.client.get("/api/v1/appointments/", params={"patient": patient},
                             name="api: patient's appointments", catch_response=True) as answer:
            self.expect(answer, 200)

    @task(2)
    def therapist_week(self):
        monday = clinic_today() - timedelta(days=clinic_today().weekday()) + timedelta(weeks=random.randint(-2, 4))
        params = {"therapist": random.choice(CONFIG["therapists"]), "start__gte": f"{monday}T00:00:00Z",
                  "start__lt": f"{monday + timedelta(days=7)}T00:00:00Z", "page_size": 200}
        with self.client.get("/api/v1/appointments/", params=params, name="api: therapist's week",
                             catch_response=True) as answer:
            self.expect(answer, 200)

    @task(1)
    def therapists_and_waitlist(self):
        with self.client.get("/api/v1/therapists/", name="api: therapists", catch_response=True) as answer:
            self.expect(answer, 200)
        with self.client.get("/api/v1/waitlist/", name="api: waitlist", catch_response=True) as answer:
            self.expect(answer, 200)

    @task(2)
    def look_up_slots_and_book(self):
        if not self.patients:
            return self.search_patients()
        first, last = search_window()
        params = {"kind": "follow_up", "therapist": random.choice(CONFIG["therapists"]), "start": first.isoformat(),
                  "end": last.isoformat()}
        with self.client.get("/api/v1/slots/", params=params, name="api: slots", catch_response=True) as answer:
            if not self.expect(answer, 200):
                return
            slots = answer.json()
        if not slots:
            return
        slot = random.choice(slots)
        body = {"patient": random.choice(self.patients), "therapist": slot["therapist"], "kind": slot["kind"],
                "start": slot["start"]}
        with self.client.post("/api/v1/appointments/", json=body, name="api: book", catch_response=True) as booked:
            if booked.status_code == 201:
                booked.success()
            elif booked.status_code == 400 and any(text in booked.text for text in OVERLAP_MESSAGES):
                booked.request_meta["name"] = "api: book" + REFUSED
                booked.success()
            else:
                booked.failure(f"booking answered {booked.status_code}: {booked.text[:200]}")
