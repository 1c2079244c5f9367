"""Fifty people at once on gunicorn and PostgreSQL get no errors: receptionists searching,
looking up slots and booking on the desk pages, integrations reading and booking through
the API (Locust, headless, on loopback).

The server runs with production settings (tests/load/harness.py says which two values
differ, and why) on pytest-django's test database, filled for this test with a clinic of
a few thousand patients and appointments and emptied again afterwards. The figures
(p50/p95 per kind of request and overall, requests per second, error rate) are printed
after the test summary. ``bench/load.py`` runs the same scenario at full size (more users,
patients and time); see bench/README.md.
"""

import shutil
import uuid

import pytest
from django.conf import settings

from tests import realparts as services
from tests.load import harness
from tests.load.seed import seed

pytestmark = [pytest.mark.postgres, pytest.mark.real_clock]  # gunicorn and Locust keep the real clock

USERS = 50
SPAWN_RATE = 10  # users started per second; they all sign in before the measured run starts
MEASURE_SECONDS = 30


@pytest.fixture
def load_server(transactional_db, tmp_path):
    """gunicorn on loopback over a seeded clinic; yields (base URL, scenario config, server log)."""
    reason = harness.tools_missing() or (services.redis_missing() if settings.CELERY_BROKER_URL.startswith("redis")
                                         else None)
    if reason:
        services.unavailable(reason)
    queue = f"load-{uuid.uuid4().hex[:10]}"
    env = harness.server_env(database_url=services.database_url_for_subprocess(),
                             broker_url=settings.CELERY_BROKER_URL, queue=queue, var_dir=tmp_path / "var")
    collecting = harness.start_collectstatic(env, tmp_path / "collectstatic.log")
    config = seed(password="load-test-" + uuid.uuid4().hex, desk_users=USERS, api_users=USERS)
    config["time_zone"] = settings.CLINIC_TIME_ZONE
    harness.wait_ok(collecting, "collectstatic", tmp_path / "collectstatic.log")
    log_path = tmp_path / "gunicorn.log"
    try:
        with harness.gunicorn(env, port=services.free_port(), workers=harness.default_workers(),
                              log_path=log_path) as url:
            yield url, config, log_path
    finally:
        harness.forget_queue(settings.CELERY_BROKER_URL, queue)
        shutil.rmtree(tmp_path / "var", ignore_errors=True)


def test_fifty_users_on_desk_pages_and_api_get_no_errors(load_server, tmp_path, report_figure):
    url, config, log_path = load_server

    result = harness.run_locust(host=url, config=config, work_dir=tmp_path, users=USERS, spawn_rate=SPAWN_RATE,
                                measure_seconds=MEASURE_SECONDS)
    harness.read_server_log(result, log_path)
    for line in harness.figures(result, users=USERS, measure_seconds=MEASURE_SECONDS):
        report_figure(line)

    assert not result.warm_up.get("unfinished"), f"the sign-ins took over {harness.WARM_UP_LIMIT} s"
    assert result.warm_up_failures == 0, result.problems()
    assert result.aggregated.failures == 0, result.problems()
    assert not result.exceptions, result.problems()
    assert result.server_statuses["5xx"] == 0, result.problems()
    assert not result.server_errors, result.problems()
    warm_up = result.warm_up["kinds"]
    assert set(warm_up) >= harness.WARM_UP_KINDS, f"never ran: {harness.WARM_UP_KINDS - set(warm_up)}"
    assert warm_up["desk: sign in"]["requests"] + warm_up["api: token"]["requests"] == USERS, (
        "every simulated user signs in once, each with an account of its own"
    )
    assert set(result.kinds) >= harness.MEASURED_KINDS, f"never ran: {harness.MEASURED_KINDS - set(result.kinds)}"
    booked, refused = result.bookings
    assert booked > refused, f"bookings pick free slots, so most succeed: {booked} made, {refused} refused"
