"""The patient list's paging: the page-number contract, the estimated count of a large
unfiltered list, deep pages read ids first, and ``?cursor=`` keyset paging."""

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.patients.models import Patient
from hipclinic.api import LargeListPaginator, _encode_cursor
from tests.factories import PatientFactory
from tests.openapi import assert_documented, served_schema

URL = "/api/v1/patients/"


def names(answer) -> list[int]:
    return [row["id"] for row in answer["results"]]


def in_list_order(**filters) -> list[int]:
    return list(Patient.objects.active().filter(**filters).order_by("last_name", "first_name", "id")
                .values_list("id", flat=True))


def walk(api_client, query: dict, *, between_pages=None) -> list[int]:
    """Every page of a cursor walk, from an empty cursor, following ``next``."""
    seen, answer = [], api_client.get(URL, {**query, "cursor": ""}).json()
    while True:
        assert set(answer) == {"next", "results"}
        seen += names(answer)
        if answer["next"] is None:
            return seen
        if between_pages:
            between_pages()
        answer = api_client.get(answer["next"]).json()


@pytest.fixture
def patients(db):
    # Shared surnames and first names, so that the key's later columns decide the order.
    return [PatientFactory(last_name=last, first_name=first)
            for last in ("Khan", "Okafor", "Smith") for first in ("Ada", "Ada", "Wei", "Zoe")]


@pytest.mark.django_db
def test_page_numbers_keep_their_contract(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)

    first = api_client.get(URL, {"page_size": 5}).json()
    last = api_client.get(URL, {"page_size": 5, "page": 3}).json()

    assert set(first) == {"count", "count_is_estimate", "next", "previous", "results"}
    assert (first["count"], first["count_is_estimate"], first["previous"]) == (12, False, None)
    assert first["next"].endswith("page=2&page_size=5") or "page=2" in first["next"]
    assert last["next"] is None and "page=2" in last["previous"]
    listed = [pk for page in (1, 2, 3) for pk in names(api_client.get(URL, {"page_size": 5, "page": page}).json())]
    assert listed == in_list_order()
    assert api_client.get(URL, {"page": 4, "page_size": 5}).status_code == 404


@pytest.mark.django_db
def test_deep_pages_read_ids_first_and_answer_the_same_rows(api_client, frontdesk, patients, monkeypatch):
    api_client.force_authenticate(frontdesk)
    plain = [names(api_client.get(URL, {"page_size": 5, "page": page}).json()) for page in (2, 3)]

    monkeypatch.setattr(LargeListPaginator, "deferred_join_from", 5)  # from page 2 on
    with CaptureQueriesContext(connection) as captured:
        deep = [names(api_client.get(URL, {"page_size": 5, "page": page}).json()) for page in (2, 3)]

    assert deep == plain
    pages = [query["sql"] for query in captured if "LIMIT" in query["sql"]]
    assert len(pages) == 2 and all(" IN (SELECT " in sql for sql in pages), pages  # ids first, one query


@pytest.mark.django_db
def test_a_cursor_walk_sees_every_patient_once_in_list_order(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)

    assert walk(api_client, {"page_size": 5}) == in_list_order()
    assert walk(api_client, {"page_size": 200}) == in_list_order()


@pytest.mark.django_db
def test_a_cursor_walk_sees_every_patient_once_while_patients_are_added(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)
    added = []

    def register_two():  # one sorting before the walk's position, one after it (or at its name)
        added.append(PatientFactory(last_name="Aaron", first_name="Ada").pk)
        added.append(PatientFactory(last_name="Smith", first_name="Ada").pk)

    seen = walk(api_client, {"page_size": 3}, between_pages=register_two)

    assert len(seen) == len(set(seen))  # nothing twice
    assert set(in_list_order()) - set(added) <= set(seen)  # everyone there from the start
    assert seen == [pk for pk in in_list_order() if pk in set(seen)]  # in list order


@pytest.mark.django_db
def test_a_cursor_walk_of_a_search_or_filter_is_exact(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)
    PatientFactory(last_name="Smithson", first_name="Ada", sex="male")

    searched = walk(api_client, {"q": "smith", "page_size": 2})
    filtered = walk(api_client, {"sex": "male", "page_size": 2})

    expected = sorted(Patient.objects.filter(last_name__startswith="Smith"),
                      key=lambda p: (p.last_name.upper(), p.first_name.upper(), p.pk))
    assert searched == [p.pk for p in expected]
    assert filtered == in_list_order(sex="male")
    assert api_client.get(URL, {"q": "smith"}).json()["count"] == 5


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", [
    "not base64 at all!", "AAAA", b64({"a": 1}), b64(["Khan", "Ada"]), b64(["Khan", "Ada", "7"]),
    b64([1, "Ada", 7]), b64(["Khan", "Ada", True]), b64(["Khan", "Ada", 2**70]), b64(["Kh\x00an", "Ada", 1]),
    b64(["Khan", "Ada", 1.5]), b64(None), "%00",
])
def test_a_bad_cursor_is_a_400_naming_the_cursor(api_client, frontdesk, patients, cursor):
    api_client.force_authenticate(frontdesk)

    response = api_client.get(URL, {"cursor": cursor})

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["cursor"]
    assert_documented(served_schema(api_client), response, "GET", URL)


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"page": "2"}, {"ordering": "record_number"}, {"page_size": "0"}])
def test_a_cursor_with_page_numbers_or_another_order_is_a_400(api_client, frontdesk, patients, query):
    api_client.force_authenticate(frontdesk)

    response = api_client.get(URL, {"cursor": "", **query})

    assert response.status_code == 400
    assert set(response.json()) <= {"cursor", "page_size"}


@pytest.mark.django_db
def test_page_and_cursor_answers_are_as_the_schema_says(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)
    schema = served_schema(api_client)

    for query in ({}, {"cursor": ""}, {"cursor": _encode_cursor(["Okafor", "Ada", 1])}, {"q": "Khan"}):
        response = api_client.get(URL, query)
        assert response.status_code == 200
        assert_documented(schema, response, "GET", URL)
    parameters = {p["name"] for p in api_client.get("/api/schema/", {"format": "json"}).json()
                  ["paths"][URL]["get"]["parameters"]}
    assert {"page", "page_size", "cursor", "q"} <= parameters


@pytest.mark.django_db
def test_a_cursor_page_costs_the_same_queries_at_any_depth(api_client, frontdesk, patients):
    api_client.force_authenticate(frontdesk)

    def queries(query):
        with CaptureQueriesContext(connection) as captured:
            assert api_client.get(URL, query).status_code == 200
        return len(captured)

    queries({})  # the role's permissions, read once and kept on the user
    assert queries({"cursor": ""}) == queries({"cursor": _encode_cursor(["Smith", "Ada", 1])}) == 1
    # Page numbers: the page and its count; on PostgreSQL first the planner's estimate (one EXPLAIN),
    # which replaces the COUNT once the list is large.
    assert queries({}) == (3 if connection.vendor == "postgresql" else 2)
    assert queries({"q": "Smith"}) == 2


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_large_unfiltered_list_counts_by_estimate_and_a_filtered_one_exactly(api_client, frontdesk, patients,
                                                                              monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the estimate is PostgreSQL's")
    Patient.objects.filter(last_name="Khan", first_name="Wei").update(archived_at="2030-01-01T00:00Z")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_patient")
    monkeypatch.setattr(LargeListPaginator, "estimate_from", 5)  # "large" from 5 rows
    api_client.force_authenticate(frontdesk)

    whole = api_client.get(URL, {"page_size": 5}).json()
    searched = api_client.get(URL, {"q": "Smith", "page_size": 2}).json()
    filtered = api_client.get(URL, {"sex": "female", "page_size": 2}).json()

    exact = len(in_list_order())
    assert whole["count_is_estimate"] is True and abs(whole["count"] - exact) <= 2
    assert whole["next"] is not None  # a full page: there may be more
    assert (searched["count"], searched["count_is_estimate"]) == (4, False)
    assert (filtered["count"], filtered["count_is_estimate"]) == (exact, False)
    # Past the estimate's last page a page still opens (the estimate may be short); beyond the rows, empty.
    beyond = api_client.get(URL, {"page_size": 5, "page": 50})
    assert beyond.status_code == 200 and beyond.json()["results"] == [] and beyond.json()["next"] is None
