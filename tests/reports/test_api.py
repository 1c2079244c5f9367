"""The summary through the API: managers see the clinic, therapists their own part, others nothing."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from apps.reports import figures
from tests.factories import UserFactory
from tests.reports.test_figures import build, period  # noqa: F401  (the fixture, here too)

URL = "/api/v1/reports/summary/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_manager_gets_the_figures_of_the_whole_clinic(db, period):  # noqa: F811
    start, end = period
    build(1, start, end)
    answer = client_of(UserFactory(role="clinic_manager")).get(URL, {"start": start, "end": end})
    assert answer.status_code == 200
    expected = figures.summary(start=start, end=end)
    assert answer.data["visits"] == expected["visits"] > 0
    assert answer.data["charges_total"] == f"{expected['charges_total']:.2f}"
    assert answer.data["outcomes"]["by_measure"]["nprs"]["no_follow_up"] == 1


def test_a_manager_may_narrow_to_a_therapist_and_a_cause(db, period):  # noqa: F811
    start, end = period
    therapists = build(1, start, end)
    user_id = therapists[0].user_id
    answer = client_of(UserFactory(role="clinic_manager")).get(
        URL, {"start": start, "end": end, "therapist": user_id, "cause": "prolonged_sitting"})
    assert answer.status_code == 200
    assert (answer.data["therapist"], answer.data["cause"]) == (user_id, "prolonged_sitting")
    assert answer.data["visits"] == figures.summary(start=start, end=end, therapist=user_id,
                                                    cause="prolonged_sitting")["visits"]


def test_a_therapist_always_gets_their_own_figures(db, period):  # noqa: F811
    start, end = period
    mine, other = build(1, start, end)
    answer = client_of(mine.user).get(URL, {"start": start, "end": end, "therapist": other.user_id})
    assert answer.status_code == 200
    assert answer.data["therapist"] == mine.user_id
    assert answer.data["visits"] == figures.summary(start=start, end=end, therapist=mine.user_id)["visits"]


@pytest.mark.parametrize("role", ["front_desk", "assistant"])
def test_the_front_desk_and_assistants_may_not_see_the_figures(db, role):
    answer = client_of(UserFactory(role=role)).get(URL, {"start": "2026-01-01", "end": "2026-01-31"})
    assert answer.status_code == 403


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
    ({"start": "yesterday", "end": "2026-01-01"}, "start"),
    ({"end": "2026-01-01"}, "start"),
    ({"start": "2026-01-01", "end": "2026-01-31", "cause": "hamstrings"}, "cause"),
    ({"start": "2026-01-01", "end": "2026-01-31", "therapist": "999999"}, "therapist"),
    ({"start": "2026-01-01", "end": "2026-01-31", "therapist": "one"}, "therapist"),
])
def test_bad_input_answers_400_with_a_message_for_its_field(db, query, field):
    answer = client_of(UserFactory(role="clinic_manager")).get(URL, query)
    assert answer.status_code == 400
    assert set(answer.json()) == {field}


def test_a_range_of_three_years_is_accepted(db):
    start = figures.date(2023, 1, 1)
    answer = client_of(UserFactory(role="clinic_manager")).get(
        URL, {"start": start, "end": start + timedelta(days=3 * 365)})
    assert answer.status_code == 200
