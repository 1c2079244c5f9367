"""The dashboard page and its CSVs: who may open them, what bad filters show, and figures equal to summary()'s."""

import csv
import io
import re
from datetime import timedelta

import pytest

from apps.reports import figures, tables
from hipclinic.zones import clinic_today
from tests.factories import UserFactory
from tests.reports.test_figures import build, period  # noqa: F401  (the fixture, here too)

URL = "/reports/"


def signed_in_as(client, role: str, user=None):
    client.force_login(user or UserFactory(role=role))
    return client


def shown_figures(html: str) -> dict[str, str]:
    """{figure: raw value} of the page's flat tables."""
    return dict(re.findall(r'data-figure="(\w+)" data-value="([^"]*)"', html))


def as_csv(value) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize(("role", "status"), [("clinic_manager", 200), ("therapist", 200),
                                              ("front_desk", 403), ("assistant", 403)])
def test_only_managers_and_therapists_may_open_the_page_and_its_csv(client, db, role, status):
    signed_in_as(client, role)
    assert client.get(URL).status_code == status
    assert client.get(f"{URL}csv/attendance/").status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    assert "/accounts/login/" in client.get(URL).headers["Location"]
    assert "/accounts/login/" in client.get(f"{URL}csv/billing/").headers["Location"]


def test_the_range_defaults_to_the_last_90_days_of_the_clinic(client, db):
    answer = signed_in_as(client, "clinic_manager").get(URL)
    form = answer.context["form"]
    assert (form.filters.start, form.filters.end) == (clinic_today() - timedelta(days=89), clinic_today())


def test_the_figures_on_the_page_are_the_summarys(client, db, period):  # noqa: F811
    start, end = period
    build(1, start, end)
    answer = signed_in_as(client, "clinic_manager").get(URL, {"start": start, "end": end})
    expected = figures.summary(start=start, end=end)
    shown = shown_figures(answer.content.decode())
    names = [key for _, (_, rows) in tables.GROUPS.items() for key, _ in rows]
    assert shown == {name: as_csv(expected[name]) for name in names}
    assert expected["visits"] > 0
    # Every figure carries its definition.
    for name in figures.DEFINITIONS:
        if name != "outcomes":
            assert figures.DEFINITIONS[name] in answer.content.decode().replace("&#x27;", "'")
    assert answer.context["charts"]["outcomes"]["values"] == [
        expected["outcomes"]["by_measure"][m]["share_reaching_mcid"] for m in expected["outcomes"]["by_measure"]]


def test_a_manager_may_narrow_to_a_therapist_and_a_cause(client, db, period):  # noqa: F811
    start, end = period
    therapists = build(1, start, end)
    user_id = therapists[0].user_id
    answer = signed_in_as(client, "clinic_manager").get(
        URL, {"start": start, "end": end, "therapist": user_id, "cause": "prolonged_sitting"})
    expected = figures.summary(start=start, end=end, therapist=user_id, cause="prolonged_sitting")
    assert shown_figures(answer.content.decode())["visits"] == str(expected["visits"])


def test_a_therapist_sees_their_own_figures_whatever_the_query_says(client, db, period):  # noqa: F811
    start, end = period
    mine, other = build(1, start, end)
    answer = signed_in_as(client, "therapist", mine.user).get(
        URL, {"start": start, "end": end, "therapist": other.user_id})
    assert "therapist" not in answer.context["form"].fields
    expected = figures.summary(start=start, end=end, therapist=mine.user_id)
    assert shown_figures(answer.content.decode())["visits"] == str(expected["visits"])
    rows = list(csv.reader(io.StringIO(client.get(
        f"{URL}csv/attendance/", {"start": start, "end": end, "therapist": other.user_id}).content.decode())))
    assert dict((row[0], row[2]) for row in rows[1:])["visits"] == str(expected["visits"])


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
    ({"start": "2020-01-01", "end": "2026-01-01"}, "end"),
    ({"start": "yesterday", "end": "2026-01-01"}, "start"),
    ({"start": "0001-01-01", "end": "9999-12-31"}, "end"),
    ({"start": "2026-01-01", "end": "2026-01-31", "cause": "hamstrings"}, "cause"),
    ({"start": "2026-01-01", "end": "2026-01-31", "therapist": "999999"}, "therapist"),
    ({"start": "2026-01-01", "end": "2026-01-31", "therapist": "one"}, "therapist"),
])
def test_bad_filters_are_form_errors_on_the_page_and_400_on_a_csv(client, db, query, field):
    signed_in_as(client, "clinic_manager")
    answer = client.get(URL, query)
    assert answer.status_code == 200
    assert set(answer.context["form"].errors) == {field}
    assert answer.context["tables"] is None
    assert client.get(f"{URL}csv/attendance/", query).status_code == 400


def test_a_therapist_who_is_not_one_is_a_form_error(client, db):
    desk = UserFactory(role="front_desk")
    answer = signed_in_as(client, "clinic_manager").get(
        URL, {"start": "2026-01-01", "end": "2026-01-31", "therapist": desk.pk})
    assert set(answer.context["form"].errors) == {"therapist"}


def test_an_unknown_table_is_not_found(client, db):
    assert signed_in_as(client, "clinic_manager").get(f"{URL}csv/patients/").status_code == 404


def test_every_table_downloads_as_csv_with_the_summarys_figures(client, db, period):  # noqa: F811
    start, end = period
    build(1, start, end)
    signed_in_as(client, "clinic_manager")
    expected = figures.summary(start=start, end=end)
    for name in tables.TABLE_NAMES:
        answer = client.get(f"{URL}csv/{name}/", {"start": start, "end": end})
        assert answer.status_code == 200
        assert answer["Content-Type"].startswith("text/csv")
        assert f"{name}-{start}-{end}.csv" in answer["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(answer.content.decode())))
        assert rows[0] == tables.build(expected)[name].columns
        if name in tables.GROUPS:
            assert {row[0]: row[2] for row in rows[1:]} == {
                key: as_csv(expected[key]) for key, _ in tables.GROUPS[name][1]}
    rows = list(csv.DictReader(io.StringIO(client.get(f"{URL}csv/outcomes_by_measure/",
                                                      {"start": start, "end": end}).content.decode())))
    assert [row["no_follow_up"] for row in rows] == [
        str(m["no_follow_up"]) for m in expected["outcomes"]["by_measure"].values()]
    by_cause = list(csv.DictReader(io.StringIO(client.get(f"{URL}csv/outcomes_by_cause/",
                                                          {"start": start, "end": end}).content.decode())))
    assert sum(int(row["patients"]) for row in by_cause if row["measure"] == "Pain (NPRS)") == \
        expected["outcomes"]["by_measure"]["nprs"]["patients"]


def test_csv_cells_a_spreadsheet_would_run_are_defused(client, db, monkeypatch):
    monkeypatch.setitem(tables.GROUPS, "compliance", ("Compliance", [("unsigned_notes", "=HYPERLINK(1)")]))
    rows = list(csv.reader(io.StringIO(signed_in_as(client, "clinic_manager").get(
        f"{URL}csv/compliance/").content.decode())))
    assert rows[1][1] == "'=HYPERLINK(1)"


@pytest.mark.parametrize(("role", "linked"), [("clinic_manager", True), ("therapist", True), ("front_desk", False),
                                              ("assistant", False)])
def test_the_admin_index_links_the_page_for_those_who_may_open_it(client, db, role, linked):
    page = signed_in_as(client, role).get("/admin/").content.decode()
    assert ('data-testid="reports-link"' in page) is linked
