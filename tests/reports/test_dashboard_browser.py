"""The dashboard in a real browser (Chromium): a manager opens it from the admin index, sees both charts
drawn and downloads a table as CSV, which parses and carries the same figures as summary()."""

import csv
import io
from pathlib import Path

import pytest

from apps.reports import figures
from tests.conftest import sign_in
from tests.reports.test_figures import build, period  # noqa: F401  (the fixture, here too)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_sees_the_charts_and_downloads_a_table(page, manager, period):  # noqa: F811
    start, end = period
    build(1, start, end)
    expected = figures.summary(start=start, end=end)

    sign_in(page, "manager")
    page.get_by_role("link", name="The clinic's numbers").click()
    page.wait_for_url("**/reports/")
    page.get_by_label("From").fill(start.isoformat())
    page.get_by_label("To (included)").fill(end.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/reports/?*")

    for name in ("outcomes", "attendance"):
        canvas = page.locator(f"canvas[data-chart={name}]")
        assert canvas.get_attribute("data-drawn") == "true"
        assert page.evaluate("(c) => window.Chart.getChart(c) !== undefined && c.width > 0",
                             canvas.element_handle())
    assert page.locator('[data-figure="visits"]').get_attribute("data-value") == str(expected["visits"])

    with page.expect_download() as download:
        page.get_by_test_id("csv-attendance").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["figure", "label", "value", "definition"]
    assert {row[0]: row[2] for row in rows[1:]}["visits"] == str(expected["visits"])

    href = page.get_by_test_id("csv-outcomes_by_measure").get_attribute("href")
    answer = page.context.request.get(href)
    measures = list(csv.DictReader(io.StringIO(answer.text())))
    assert [row["patients"] for row in measures] == [
        str(m["patients"]) for m in expected["outcomes"]["by_measure"].values()]
