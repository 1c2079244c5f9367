"""The admin's appointment list stays cheap on a big table: no COUNT(*) of the whole table,
no OFFSET joined over every skipped row, no DISTINCT scan for the date drill-down.

The paginator's thresholds are lowered so that a few hundred rows stand for a big table;
bench/admin_appointments.py measures the same pages over 1,000,000 rows.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.scheduling.models import Appointment
from hipclinic.admin_lists import LargeTablePaginator, estimated_rows
from tests.factories import PatientFactory, TherapistFactory, UserFactory, appointment_kind

URL = "/admin/scheduling/appointment/"
FIRST = datetime(2028, 3, 6, 9, tzinfo=UTC)
IDS_ONLY = re.compile(r'SELECT "scheduling_appointment"\."id"( AS "pk")? FROM "scheduling_appointment" ORDER BY')


def make_appointments(count: int, *, last_in: int | None = None) -> None:
    """``count`` half-hour appointments for one therapist, one after another, across a few
    patients; the last one moved to year ``last_in`` when given."""
    therapist, desk, kind = TherapistFactory(), UserFactory(role="front_desk"), appointment_kind("follow_up")
    patients = PatientFactory.create_batch(5)
    rows = [
        Appointment(patient=patients[n % 5], therapist=therapist, kind=kind, booked_by=desk,
                    start=FIRST + timedelta(minutes=30 * n), end=FIRST + timedelta(minutes=30 * n + 30))
        for n in range(count)
    ]
    if last_in is not None:
        rows[-1].start = rows[-1].start.replace(year=last_in)
        rows[-1].end = rows[-1].start + timedelta(minutes=30)
    Appointment.objects.bulk_create(rows)


def get(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response, [query["sql"] for query in captured.captured_queries]


def counts_of_whole_table(queries):
    table = Appointment._meta.db_table
    return [sql for sql in queries if "COUNT(" in sql.upper() and f'"{table}"' in sql and " WHERE " not in sql]


def shown_ids(response):
    return [appointment.pk for appointment in response.context["cl"].result_list]


@pytest.fixture
def big_table(monkeypatch):
    """Make 250 rows count as a big table: estimate from 100 rows, deferred join from row 100."""
    monkeypatch.setattr(LargeTablePaginator, "estimate_from", 100)
    monkeypatch.setattr(LargeTablePaginator, "deferred_join_from", 100)


@pytest.mark.parametrize(
    ("reltuples", "relpages", "pages", "expected"),
    [
        # 250 / 19 * 19 is 249.99999999999997 in floating point: the list said "about 249"
        # for 250 rows, and the test below failed whenever earlier tests left the table on 19 pages.
        (250.0, 19, 19, 250),
        (250.0, 38, 38, 250),
        (250.0, 19, 38, 500),  # the table has doubled since the last ANALYZE
        (250.0, 0, 0, 250),  # rows counted, no page written yet
        (-1.0, 0, 3, None),  # never analysed: no estimate
    ],
)
def test_the_estimate_is_the_rows_per_page_at_the_last_analyze_times_the_pages_now_rounded(
    reltuples, relpages, pages, expected
):
    assert estimated_rows(reltuples, relpages, pages) == expected


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_unfiltered_list_takes_its_size_from_the_table_estimate_and_still_pages(client, manager, big_table):
    make_appointments(250)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Appointment._meta.db_table}")  # as autovacuum does on a real table
    client.force_login(manager)

    first, queries = get(client, URL)

    assert counts_of_whole_table(queries) == []
    assert "about 250 appointments" in " ".join(first.content.decode().split())
    in_order = list(Appointment.objects.order_by("start", "id").values_list("pk", flat=True))
    assert shown_ids(first) == in_order[:100]
    assert 'href="?p=3"' in first.content.decode()  # three pages of 100

    last, queries = get(client, URL + "?p=3")
    assert counts_of_whole_table(queries) == []
    assert shown_ids(last) == in_order[200:]


@pytest.mark.postgres
@pytest.mark.django_db
def test_rows_past_an_estimate_that_falls_short_are_still_shown(client, manager, big_table):
    make_appointments(250)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Appointment._meta.db_table}")  # as autovacuum does on a real table
    later = Appointment.objects.order_by("-start").first()
    Appointment.objects.bulk_create(  # 20 more since the last ANALYZE: the estimate still says 250
        Appointment(patient=later.patient, therapist=later.therapist, kind=later.kind, booked_by=later.booked_by,
                    start=later.end + timedelta(minutes=30 * n), end=later.end + timedelta(minutes=30 * n + 30))
        for n in range(20)
    )
    client.force_login(manager)

    last, _ = get(client, URL + "?p=3")

    assert last.context["cl"].paginator.count < 270
    in_order = list(Appointment.objects.order_by("start", "id").values_list("pk", flat=True))
    assert shown_ids(last) == in_order[200:270]


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_page_far_into_the_list_reads_its_ids_first(client, manager, big_table):
    make_appointments(250)
    client.force_login(manager)

    response, queries = get(client, URL + "?p=2")

    in_order = list(Appointment.objects.order_by("start", "id").values_list("pk", flat=True))
    assert shown_ids(response) == in_order[100:200]
    ids_only = [sql for sql in queries if IDS_ONLY.match(sql)]
    assert len(ids_only) == 1 and "OFFSET 100" in ids_only[0]  # then the page's rows by id, with their joins


@pytest.mark.django_db
def test_a_filtered_list_is_counted_exactly(client, manager, big_table):
    make_appointments(250)
    Appointment.objects.filter(pk__in=Appointment.objects.order_by("id").values("pk")[:30]).update(status="cancelled")
    client.force_login(manager)

    response, _ = get(client, URL + "?status__exact=cancelled")

    text = " ".join(response.content.decode().split())
    assert "30 appointments" in text and "about" not in text
    assert len(shown_ids(response)) == 30


@pytest.mark.django_db
def test_the_date_drill_down_offers_every_year_from_the_first_to_the_last_without_a_scan(client, manager):
    make_appointments(20, last_in=2031)
    client.force_login(manager)

    response, queries = get(client, URL)

    text = response.content.decode()
    for year in (2028, 2029, 2030, 2031):  # 2029 and 2030 have no appointments: offered all the same
        assert f'href="?start__year={year}"' in text
    assert response.context["cl"].result_count == 20
    assert not [sql for sql in queries if "DISTINCT" in sql.upper()]

    months, queries = get(client, URL + "?start__year=2028")
    text = months.content.decode()
    assert "January 2028" in text and "December 2028" in text
    assert len(months.context["cl"].result_list) == 19
    assert not [sql for sql in queries if "DISTINCT" in sql.upper()]

    days, queries = get(client, URL + "?start__year=2028&start__month=3")
    text = days.content.decode()
    assert "March 1" in text and "March 31" in text
    assert len(days.context["cl"].result_list) == 19
    assert not [sql for sql in queries if "DISTINCT" in sql.upper()]
