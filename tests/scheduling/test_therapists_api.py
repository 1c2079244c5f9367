"""GET /api/v1/therapists/: therapists with their weekly hours, read-only, in a fixed number of queries."""

from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.roles import Role
from tests.factories import TherapistFactory, UserFactory
from tests.openapi import assert_documented, served_schema

pytestmark = pytest.mark.django_db

URL = "/api/v1/therapists/"


@pytest.mark.parametrize("role_user", list(Role), indirect=True)
def test_every_staff_role_may_list_therapists(api_client, role_user):
    TherapistFactory()
    api_client.force_authenticate(role_user)

    response = api_client.get(URL)

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(URL).status_code == 401


def test_staff_without_a_role_get_403(api_client):
    api_client.force_authenticate(UserFactory(username="nobody"))

    assert api_client.get(URL).status_code == 403


def test_a_therapist_comes_with_their_working_hours(api_client, frontdesk):
    hours = [(0, time(9), time(12, 30)), (2, time(13), time(17))]
    therapist = TherapistFactory(display_name="Ann Example", hours=hours)
    api_client.force_authenticate(frontdesk)

    response = api_client.get(f"{URL}{therapist.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("id", "display_name", "is_active")} == {
        "id": therapist.pk, "display_name": "Ann Example", "is_active": True,
    }
    assert [(h["weekday"], h["start_time"], h["end_time"]) for h in body["working_hours"]] == [
        (0, "09:00:00", "12:30:00"), (2, "13:00:00", "17:00:00"),
    ]
    # The schema said format "time", which requires an offset these wall-clock times rightly lack.
    assert_documented(served_schema(api_client), response, "GET", "/api/v1/therapists/{id}/")


@pytest.mark.parametrize(
    ("is_active", "expected"), [("true", ["Ann", "Cat"]), ("false", ["Bob"]), (None, ["Ann", "Bob", "Cat"])]
)
def test_therapists_filter_on_is_active_and_sort_by_name(api_client, frontdesk, is_active, expected):
    for name, active in (("Cat", True), ("Bob", False), ("Ann", True)):
        TherapistFactory(display_name=name, is_active=active)
    api_client.force_authenticate(frontdesk)

    response = api_client.get(URL, {} if is_active is None else {"is_active": is_active})

    assert [t["display_name"] for t in response.json()["results"]] == expected


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_therapist_api_is_read_only_even_for_managers(api_client, manager, method):
    therapist = TherapistFactory()
    api_client.force_authenticate(manager)

    url = URL if method == "post" else f"{URL}{therapist.pk}/"
    response = getattr(api_client, method)(url, {"display_name": "Renamed"}, format="json")

    assert response.status_code in (403, 405)
    therapist.refresh_from_db()
    assert therapist.display_name != "Renamed"


@pytest.mark.parametrize("therapists", [2, 50])
def test_the_list_runs_the_same_queries_whatever_the_row_count(api_client, frontdesk, therapists):
    TherapistFactory.create_batch(therapists)
    api_client.force_authenticate(UserFactory(username=frontdesk.username))  # fresh: no permission cache

    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(URL, {"page_size": 100})

    assert response.status_code == 200 and response.json()["count"] == therapists
    # permissions: user's and group's; count; page of therapists; their working hours
    assert len(queries) == 5, [q["sql"] for q in queries]
