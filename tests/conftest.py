"""Fixtures for every test: named users per role, API clients, and the real parts.

Markers (``postgres``, ``redis``, ``worker``, ``smtp``, ``browser``) say which real part
a test needs; a missing part skips the test with the reason, or fails it when
HIPCLINIC_REQUIRE_SERVICES=1 (as .ci/run sets).
"""

from __future__ import annotations

import os
from datetime import datetime

import pytest
import time_machine
from django.test import override_settings
from rest_framework.test import APIClient

from apps.accounts.roles import Role
from tests import realparts
from tests.factories import UserFactory

# ---------------------------------------------------------------------------- session set-up


@pytest.fixture(autouse=True, scope="session")
def _test_settings():
    # Plain static storage: the manifest needs collectstatic, which the production
    # build runs. Fast hashing: the tests do not measure password cracking cost.
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ):
        yield


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Unit tests run tasks in-process; tests marked ``worker`` use a real worker."""
    from hipclinic.celery import app

    if request.node.get_closest_marker("worker"):
        yield
        return
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


def pytest_runtest_setup(item):
    checks = {
        "postgres": realparts.postgres_missing,
        "redis": realparts.redis_missing,
        "browser": realparts.browser_missing,
    }
    for marker, check in checks.items():
        if item.get_closest_marker(marker):
            reason = check()
            if reason:
                realparts.unavailable(reason)


# ---------------------------------------------------------------------------- the clock

# HIPCLINIC_TEST_CLOCK=2026-03-29T00:30:00+00:00 runs every in-process test as if it
# started at that instant (the clock ticks on from there), to find tests whose outcome
# depends on the hour or date they run at. Tests that start processes with the machine's
# own clock (a Celery worker, Chromium, gunicorn) are left alone: moving this process's
# clock alone would set it against theirs. They pin the patient's zone instead
# (tests/realparts.py, zone_where_it_is).
REAL_CLOCK_MARKERS = ("worker", "browser", "real_clock")


def pinned_instant() -> datetime | None:
    value = os.environ.get("HIPCLINIC_TEST_CLOCK", "").strip()
    if not value:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise pytest.UsageError(
            f"HIPCLINIC_TEST_CLOCK={value!r} is not an ISO instant with an offset, such as 2026-03-29T00:30:00+00:00"
        )
    return instant


def pytest_configure(config):
    pinned_instant()  # a bad value stops the run before any test


def pytest_report_header(config):
    instant = pinned_instant()
    if instant is not None:
        return [f"clock: each in-process test starts at {instant.isoformat()} (HIPCLINIC_TEST_CLOCK); "
                f"tests marked {', '.join(REAL_CLOCK_MARKERS)} keep the real clock"]
    return None


@pytest.fixture(autouse=True)
def _pinned_clock(request):
    instant = pinned_instant()
    if instant is None or any(request.node.get_closest_marker(marker) for marker in REAL_CLOCK_MARKERS):
        yield
        return
    # A timestamp, not the datetime: time_machine would also set the process's local zone
    # (TZ) to the datetime's, whereas Django sets it to TIME_ZONE, as in production.
    with time_machine.travel(instant.timestamp(), tick=True):
        yield


@pytest.fixture
def clinic_in_utc(settings):
    """Pin the clinic's zone to UTC for a test that writes its rota, days and times in UTC.

    CLINIC_TIME_ZONE comes from the environment (UTC unless set): a test that means
    "09:00-17:00" or "Monday" in UTC would otherwise fail for a clinic elsewhere although
    the product is right. Tests about other zones set them themselves.
    """
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "UTC"


@pytest.fixture(autouse=True)
def _sqlite_note_locks_lifted_for_the_flush(request):
    """A transactional test on SQLite ends with a flush, which SQLite does with DELETE: the triggers that keep
    signed notes and addenda (apps/visits/sqlite_locks.py) would refuse it. They are dropped just before the
    flush; post_migrate, which the flush sends, puts them back. PostgreSQL flushes with TRUNCATE, which row
    triggers do not see."""
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" not in request.fixturenames and not (marker and marker.kwargs.get("transaction")):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up first, so this teardown runs before its flush
    yield
    from django.db import connections

    from apps.visits.sqlite_locks import remove_sqlite_locks

    for connection in connections.all():
        remove_sqlite_locks(connection)


@pytest.fixture(autouse=True)
def _fresh_clinic_policy():
    """Each test reads the clinic's policy afresh: a row remembered from a rolled-back test would leak."""
    from apps.ops.policy import forget_clinic_policy

    forget_clinic_policy()
    yield
    forget_clinic_policy()


@pytest.fixture
def clinic_policy(db):
    """``clinic_policy(missed_session_days=7, ...)`` changes the clinic's policy as a manager would."""
    from apps.ops import services as ops_services
    from apps.ops.policy import clinic_policy as current

    def change(**values):
        policy = current()
        for name, value in values.items():
            setattr(policy, name, value)
        return ops_services.update_clinic_policy(policy=policy, changed_by=None)

    return change


# ---------------------------------------------------------------------------- figures

_FIGURES: list[tuple[str, str]] = []


@pytest.fixture
def report_figure(request):
    """Record a measured figure (latency, counts, ratios); printed after the test summary."""

    def report(text: str) -> None:
        _FIGURES.append((request.node.nodeid, text))

    return report


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("figures measured by the tests")
        for nodeid, text in _FIGURES:
            terminalreporter.write_line(f"{text}    [{nodeid}]")


# ---------------------------------------------------------------------------- people

PASSWORD = "correct-horse-battery"


@pytest.fixture
def frontdesk(db):
    return UserFactory(username="frontdesk", role=Role.FRONT_DESK, password=PASSWORD)


@pytest.fixture
def therapist(db):
    return UserFactory(username="therapist", role=Role.THERAPIST, password=PASSWORD)


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", role=Role.CLINIC_MANAGER, password=PASSWORD)


@pytest.fixture
def patient(db):
    """A patient with a referral (prolonged sitting), who agreed to e-mail, in London."""
    from tests.factories import ReferralFactory

    return ReferralFactory(cause="prolonged_sitting", patient__first_name="Pat", patient__last_name="Example",
                           patient__email="pat@example.org").patient


@pytest.fixture
def prescribe(db):
    """``prescribe(patient, therapist, "seated-knee-raise", ("standing-march", 3), start=..., goals=...)``:
    an active program of library exercises at their default doses (or the sets given), written through
    the services; ``active=False`` leaves it a draft. Started a week ago unless ``start`` is given: a
    week ago where the patient lives, since their weeks and "today" are counted in their own zone,
    which the clinic's date can be a day ahead of or behind."""
    from datetime import timedelta

    from tests.factories import ProgramFactory

    def make(patient, therapist, *exercises, active: bool = True, start=None, **fields):
        return ProgramFactory(patient=patient, therapist=therapist, exercises=exercises,
                              start_date=start or patient.today() - timedelta(days=7),
                              status="active" if active else "draft", **fields)

    return make


@pytest.fixture
def assistant(db):
    return UserFactory(username="assistant", role=Role.ASSISTANT, password=PASSWORD)


@pytest.fixture
def role_user(request):
    """Parametrize with indirect=True and a role value to get that role's user."""
    name = {Role.FRONT_DESK: "frontdesk", Role.THERAPIST: "therapist", Role.ASSISTANT: "assistant",
            Role.CLINIC_MANAGER: "manager"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture
def api_client():
    return APIClient()


def signed_in(client, user):
    client.force_login(user)
    return client


def sign_in(page, username: str, *, lands_on: str = "**/admin/") -> None:
    """Sign in through the real login page in the browser, as staff do (with the one-time code from
    their authenticator when their role needs one), and wait for the start page."""
    from apps.accounts.models import User

    device = authenticator_for(User.objects.get(username=username))
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.wait_for_url("**/accounts/two-factor/code/**")
        page.get_by_label("One-time code").fill(one_time_code(device))
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lands_on)


# ---------------------------------------------------------------------------- two-factor sign-in


def authenticator_for(user):
    """The user's authenticator app (django-otp's TOTP device): made, confirmed, if their role needs
    two-factor sign-in and they have none yet; None for a user who signs in without one."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from apps.accounts import two_factor

    device = two_factor.authenticator(user)
    if device is None and two_factor.two_factor_required(user):
        device = TOTPDevice.objects.create(user=user, name=two_factor.AUTHENTICATOR_NAME, confirmed=True)
    return device


def one_time_code(device, *, at: float | None = None) -> str:
    """The code the authenticator shows now (or at the Unix time ``at``), as the user would type it.

    django-otp takes one code per time step at most (``last_t``): when this step's code was used
    already, the next step's, which it accepts too (one step's tolerance). Under a pinned clock
    ``time.time()`` is the pinned one, as the server in this process sees it.
    """
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    if totp.t() <= device.last_t:
        totp.time += (device.last_t + 1 - totp.t()) * device.step
    return str(totp.token()).zfill(device.digits)


@pytest.fixture(autouse=True)
def _force_login_with_two_factor(request, monkeypatch):
    """``client.force_login(user)`` signs staff in as the sign-in page does, one-time code included:
    a user whose role needs two-factor sign-in gets an authenticator (if they have none) and a
    session that counts as verified, so tests about other things need not type codes. Tests
    about two-factor sign-in itself mark themselves ``raw_sign_in`` to get Django's own."""
    if request.node.get_closest_marker("raw_sign_in"):
        yield
        return
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    plain = Client.force_login

    def force_login(self, user, backend=None):
        plain(self, user, backend)
        device = authenticator_for(user)
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)
    yield


# ---------------------------------------------------------------------------- real parts


@pytest.fixture
def smtp_relay():
    """A real SMTP server on loopback that keeps what it accepts; a worker sends to ``smtp_relay.email_url``."""
    relay = realparts.SMTPSink().start()
    yield relay
    relay.stop()


@pytest.fixture
def smtp_server(settings, smtp_relay):
    """The SMTP relay, with this process's Django mail going to it for the test's duration."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_relay.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_relay


@pytest.fixture
def celery_worker(transactional_db):
    """A real ``celery worker`` process on a fresh queue of the configured broker."""
    with realparts.celery_worker() as worker:
        yield worker


@pytest.fixture(scope="session")
def chromium():
    reason = realparts.browser_missing()
    if reason:
        realparts.unavailable(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to
    # run beside one unless told it is safe (the live server's own thread is unaffected).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=realparts.CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
