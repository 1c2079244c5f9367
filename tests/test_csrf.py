"""CSRF on every form: each POST form a person can reach carries a token, and refuses a post without one.

The forms are found by crawling, not listed by hand: every desk and admin page reachable
by link from /desk/ and /admin/ (each route once, as the first role that can open it),
the sign-in and password pages, and the pages patients open from their e-mails. A form
added later is covered without touching this file.
"""

from collections import deque
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import Resolver404, get_resolver, resolve
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token
from rest_framework.views import APIView

from apps.assessments import intake
from apps.scheduling import services as scheduling
from apps.scheduling.models import AppointmentStatus, WaitlistEntry, WaitlistOffer
from tests.factories import AppointmentFactory, PatientFactory, appointment_kind
from tests.followups.test_logging import token_for
from tests.test_access_every_route import walk
from tests.test_query_budgets import make_rows

pytestmark = pytest.mark.django_db

CSRF_REFUSAL = b"CSRF verification failed"
# Views that take a POST without a CSRF token, and why that is safe.
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: mail clients POST with no cookie; the signed token in
    # the URL is the credential and the only effect is what its owner asked for.
    "notifications:unsubscribe",
}


class Page(HTMLParser):
    """The links and the POST forms (action and fields) of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[dict] = []
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form" and (attrs.get("method") or "get").lower() == "post":
            self._form = {"action": attrs.get("action") or "", "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag in {"input", "select", "textarea", "button"} and attrs.get("name"):
            if attrs.get("type") in {"checkbox", "radio"} and "checked" not in attrs:
                return
            self._form["fields"].setdefault(attrs["name"], attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def route_of(path: str) -> str | None:
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return f"{match.view_name}:{match.route}"


def crawl(clients: list[Client], starts: list[str]) -> dict[str, tuple[Client, str, dict]]:
    """Every POST form on every route reachable by link from `starts`, keyed by page route and action.

    Each client (role) walks every route it can open once; a form found by several roles is kept once.
    """
    forms = {}
    for client in clients:
        queue, seen = deque(starts), set()
        while queue:
            url = queue.popleft()
            path = urlsplit(url).path
            route = route_of(path)
            if route is None or route in seen:
                continue
            seen.add(route)
            response = client.get(url)
            if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
                continue
            page = Page()
            page.feed(response.content.decode())
            for form in page.forms:
                action = urljoin(url, form["action"]) if form["action"] else url
                forms.setdefault(f"{route} -> {route_of(urlsplit(action).path)}", (client, action, form["fields"]))
            for link in page.links:
                target = urljoin(url, link)
                parts = urlsplit(target)
                if parts.netloc in {"", "testserver"} and parts.path.startswith(("/desk/", "/admin/")) \
                        and "logout" not in parts.path:
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return forms


@pytest.fixture
def clinic(therapist, frontdesk, prescribe):
    """A little of everything, so that every change, delete and action page has something to show."""
    make_rows(2)
    patient = PatientFactory(email="ada@example.org")
    prescribe(patient, therapist, "seated-knee-raise")
    start = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=30)
    freed = AppointmentFactory(start=start, status=AppointmentStatus.CANCELLED)
    entry = WaitlistEntry.objects.create(patient=patient, kind=appointment_kind(), earliest=start.date(),
                                         latest=start.date() + timedelta(days=7), created_by=frontdesk)
    offer = WaitlistOffer.objects.create(entry=entry, freed_appointment=freed, therapist=freed.therapist,
                                         start=freed.start, end=freed.end)
    invitation = intake.send_intake_invitation(patient=PatientFactory(email="grace@example.org"), sent_by=therapist)
    return {
        "log": f"/p/{token_for(patient, therapist)}/log/",
        "offer": urlsplit(scheduling.offer_url(offer)).path,
        "intake": urlsplit(intake.intake_url(invitation)).path,
    }


def staff_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_every_staff_form_carries_a_token_and_refuses_a_post_without_one(clinic, manager, therapist, frontdesk):
    forms = crawl([staff_client(manager), staff_client(therapist), staff_client(frontdesk)], ["/desk/", "/admin/"])

    # The crawl reached the forms people use every day (a floor, so a broken crawl cannot pass).
    reached = " ".join(forms)
    for route in ("desk:patient-new", "desk:patient-book", "desk:appointment-cancel", "admin:patients_patient_add",
                  "admin:prescriptions_program_change", "admin:assessments_assessment_add", "admin:logout"):
        assert route in reached, f"the crawl did not reach {route}"
    assert len(forms) >= 40

    for name, (client, action, fields) in forms.items():
        assert "csrfmiddlewaretoken" in fields, f"{name}: the form has no CSRF token"
        fields = {key: value for key, value in fields.items() if key != "csrfmiddlewaretoken"}
        response = client.post(action, fields)  # the cookie is there; the token is not, as in a forged post
        assert response.status_code == 403 and CSRF_REFUSAL in response.content, f"{name}: {response.status_code}"


def test_the_sign_in_password_and_patient_pages_refuse_a_post_without_a_token(clinic, frontdesk):
    uid = urlsafe_base64_encode(force_bytes(frontdesk.pk))
    reset = f"/accounts/password-reset/{uid}/{default_token_generator.make_token(frontdesk)}/"
    pages = ["/accounts/login/", "/accounts/password-reset/", reset, clinic["log"], clinic["offer"], clinic["intake"]]

    for url in pages:
        client = Client(enforce_csrf_checks=True)
        response = client.get(url, follow=True)  # the reset link redirects to its set-password form
        page = Page()
        page.feed(response.content.decode())
        assert response.status_code == 200 and page.forms, f"{url}: no form"
        [form] = page.forms
        assert "csrfmiddlewaretoken" in form["fields"], f"{url}: the form has no CSRF token"
        fields = {key: value for key, value in form["fields"].items() if key != "csrfmiddlewaretoken"}
        refused = client.post(response.request["PATH_INFO"], fields)
        assert refused.status_code == 403 and CSRF_REFUSAL in refused.content, url


def test_the_api_asks_a_browser_session_for_the_token_but_not_a_token_client(frontdesk):
    payload = {"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1980-01-01"}
    browser = staff_client(frontdesk)
    assert browser.post("/api/v1/patients/", payload, content_type="application/json").status_code == 403

    token = Token.objects.create(user=frontdesk)
    script = Client(enforce_csrf_checks=True, headers={"Authorization": f"Token {token}"})
    assert script.post("/api/v1/patients/", payload, content_type="application/json").status_code == 201


def test_no_view_skips_csrf_except_the_ones_listed_with_their_reason():
    exempt = set()
    for _route, name, view in walk(get_resolver().url_patterns):
        view_class = getattr(view, "cls", None)
        if view_class and issubclass(view_class, APIView):
            continue  # DRF exempts the view and checks CSRF itself for session sign-ins (test above)
        if getattr(view, "csrf_exempt", False):
            exempt.add(name)

    assert exempt == CSRF_EXEMPT
