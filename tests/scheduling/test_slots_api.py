"""GET /api/v1/slots/: who may ask, what a slot looks like, and every refusal a 400 with field errors."""

from datetime import UTC, datetime, time

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.roles import Role
from apps.scheduling.models import AppointmentKind
from tests.factories import AppointmentFactory, TherapistFactory, UserFactory
from tests.scheduling.test_slots_selectors import make_rota

pytestmark = pytest.mark.django_db

URL = "/api/v1/slots/"


@pytest.fixture(autouse=True)
def _now(clinic_in_utc):
    # Rotas and slots are written in UTC: the clinic's zone is pinned with the clock.
    with time_machine.travel("2026-03-23 08:00 +0000", tick=False):
        yield


@pytest.fixture
def desk(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)
    return api_client


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("role_user", list(Role), indirect=True)
def test_every_staff_role_may_read_slots(api_client, role_user):
    TherapistFactory()
    api_client.force_authenticate(role_user)

    response = api_client.get(URL, {"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23"})

    assert response.status_code == 200
    assert len(response.json()) == 31


def test_anonymous_callers_get_401(api_client):
    response = api_client.get(URL, {"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23"})

    assert response.status_code == 401


def test_staff_without_a_role_get_403(api_client):
    api_client.force_authenticate(UserFactory(username="nobody"))

    assert api_client.get(URL, {"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23"}).status_code == 403


def test_a_slot_is_therapist_kind_start_and_end(desk):
    therapist = TherapistFactory(display_name="Ann Example", hours=[(0, time(9), time(10))])
    AppointmentFactory(therapist=therapist, start=at("2026-03-23 09:00"), end=at("2026-03-23 09:30"))

    params = {"kind": "follow_up", "therapist": therapist.pk, "start": "2026-03-23", "end": "2026-03-23"}
    response = desk.get(URL, params)

    assert response.status_code == 200
    assert response.json() == [
        {"therapist": therapist.pk, "therapist_name": "Ann Example", "kind": "follow_up",
         "start": "2026-03-23T09:30:00Z", "end": "2026-03-23T10:00:00Z"},
    ]


def test_times_are_shown_with_the_clinic_offset(desk, settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "Europe/London"
    TherapistFactory(hours=[(0, time(9), time(9, 30))])

    response = desk.get(URL, {"kind": "follow_up", "start": "2026-06-15", "end": "2026-06-15"})

    assert [(s["start"], s["end"]) for s in response.json()] == [
        ("2026-06-15T09:00:00+01:00", "2026-06-15T09:30:00+01:00"),
    ]


def test_datetimes_narrow_the_search(desk):
    TherapistFactory()

    response = desk.get(URL, {"kind": "follow_up", "start": "2026-03-23T10:00:00Z", "end": "2026-03-23T11:00:00+00:00"})

    assert response.status_code == 200
    assert [s["start"] for s in response.json()] == [
        "2026-03-23T10:00:00Z", "2026-03-23T10:15:00Z", "2026-03-23T10:30:00Z",
    ]


def test_without_a_therapist_every_active_one_is_searched(desk):
    ann = TherapistFactory(display_name="Ann", hours=[(0, time(9), time(9, 30))])
    bob = TherapistFactory(display_name="Bob", hours=[(0, time(9), time(9, 30))])
    TherapistFactory(display_name="Gone", is_active=False)

    response = desk.get(URL, {"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23"})

    assert [s["therapist"] for s in response.json()] == [ann.pk, bob.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-03-23", "end": "2026-03-23"}, "kind"),  # missing
        ({"kind": "massage", "start": "2026-03-23", "end": "2026-03-23"}, "kind"),  # unknown
        ({"kind": "retired", "start": "2026-03-23", "end": "2026-03-23"}, "kind"),  # inactive
        ({"kind": "follow\x00up", "start": "2026-03-23", "end": "2026-03-23"}, "kind"),  # NUL: PostgreSQL refuses
        ({"kind": "follow_up", "therapist": "999999", "start": "2026-03-23", "end": "2026-03-23"}, "therapist"),
        ({"kind": "follow_up", "therapist": "INACTIVE", "start": "2026-03-23", "end": "2026-03-23"}, "therapist"),
        ({"kind": "follow_up", "therapist": "ann", "start": "2026-03-23", "end": "2026-03-23"}, "therapist"),
        ({"kind": "follow_up", "therapist": "9" * 30, "start": "2026-03-23", "end": "2026-03-23"}, "therapist"),
        ({"kind": "follow_up", "therapist": "-1", "start": "2026-03-23", "end": "2026-03-23"}, "therapist"),
        ({"kind": "follow_up", "end": "2026-03-23"}, "start"),  # missing
        ({"kind": "follow_up", "start": "23/03/2026", "end": "2026-03-23"}, "start"),
        ({"kind": "follow_up", "start": "2026-02-30", "end": "2026-03-23"}, "start"),
        ({"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23T25:00"}, "end"),
        ({"kind": "follow_up", "start": "2026-03-23", "end": "tomorrow"}, "end"),
        ({"kind": "follow_up", "start": "2026-03-23", "end": ""}, "end"),
        ({"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-23\x00"}, "end"),
        ({"kind": "follow_up", "start": "2026-03-23", "end": "9999-12-31"}, "end"),  # would overflow a day on
        ({"kind": "follow_up", "start": "0001-01-01", "end": "2026-03-23"}, "start"),
        ({"kind": "follow_up", "start": "2026-03-24", "end": "2026-03-23"}, "end"),  # end before start
        ({"kind": "follow_up", "start": "2026-03-23T10:00Z", "end": "2026-03-23T10:00Z"}, "end"),  # empty
        ({"kind": "follow_up", "start": "2026-03-01", "end": "2026-05-02"}, "end"),  # 63 days
        ({"kind": "follow_up", "start": "2026-03-01T00:00Z", "end": "2026-05-02T00:00:01Z"}, "end"),  # into day 63
    ],
)
def test_a_refused_query_answers_400_naming_the_field(desk, params, field):
    AppointmentKind.objects.create(slug="retired", name="Retired", duration_minutes=30, is_active=False)
    inactive = TherapistFactory(is_active=False)
    if params.get("therapist") == "INACTIVE":
        params = {**params, "therapist": str(inactive.pk)}

    response = desk.get(URL, params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_longest_range_allowed_is_slot_search_max_days(desk):
    TherapistFactory()

    response = desk.get(URL, {"kind": "initial_assessment", "start": "2026-03-01", "end": "2026-05-01"})  # 62 days

    assert response.status_code == 200
    assert response.json()[-1]["start"] == "2026-05-01T16:00:00Z"


@pytest.mark.parametrize(("therapists", "appointments"), [(2, 10), (50, 1000)])
def test_slots_run_the_same_queries_whatever_the_numbers(api_client, frontdesk, therapists, appointments):
    make_rota(therapists, appointments)
    frontdesk = UserFactory(username=frontdesk.username)  # fresh: no permission cache
    api_client.force_authenticate(frontdesk)

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(URL, {"kind": "follow_up", "start": "2026-03-23", "end": "2026-03-27"})

    assert response.status_code == 200
    # permissions: user's and group's; query: kind; slots: hours, the clinic's policy (its slot grid,
    # read once per request), then the free gaps in one query on PostgreSQL, or appointments and time off
    assert len(queries) == (6 if connection.vendor == "postgresql" else 7), [q["sql"] for q in queries]
