"""The stored figures (refreshed by beat) give the dashboard the same numbers as counting the records."""

import statistics
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.ops.policy import clinic_policy, forget_clinic_policy
from apps.reports import figures
from apps.reports.models import DayFigures, FiguresRefresh, FinishedEpisode, OverduePlan
from apps.reports.services import RECENT_DAYS, refresh_figures
from apps.scheduling.models import Appointment
from hipclinic.zones import clinic_today, clinic_zone
from tests.reports.test_figures import build

# Where the refresh is stamped, not what it counts: these differ between the two ways by design.
ABOUT_THE_COUNT = {"stored_through", "refreshed_at", "overdue_as_of"}


@pytest.fixture
def period():
    end = clinic_today() - timedelta(days=2)
    return end - timedelta(days=59), end


def noon(day) -> datetime:
    return datetime.combine(day, time(12), tzinfo=clinic_zone()).astimezone(UTC)


def figures_of(found: dict) -> dict:
    return {name: value for name, value in found.items() if name not in ABOUT_THE_COUNT}


def both_ways(**arguments) -> tuple[dict, dict]:
    return figures.summary(**arguments), figures.summary(**arguments, stored=False)


@pytest.mark.parametrize("stored_days", [0, 25, 60, 70], ids=["before", "inside", "to-the-end", "past-the-end"])
def test_figures_from_stored_days_equal_the_figures_counted_from_the_records(db, period, stored_days):
    start, end = period
    therapists = build(2, start, end)
    refresh_figures(now=noon(start + timedelta(days=stored_days)))
    now = noon(clinic_today())
    whole, _ = both_ways(start=start, end=end, now=now)
    for filters in [{}, {"therapist": therapists[1].user_id}, {"cause": "hip_osteoarthritis"},
                    {"therapist": therapists[2].user_id, "cause": "prolonged_sitting"}]:
        stored, live = both_ways(start=start, end=end, now=now, **filters)
        assert figures_of(stored) == figures_of(live), filters
    through = start + timedelta(days=stored_days - 1)
    assert stored["stored_through"] == (min(through, end) if stored_days else None)
    assert whole["visits"] and whole["late_cancellations"] and whole["outcomes"]["by_measure"]["nprs"]["patients"]


def test_the_dashboard_reads_the_stored_days_until_the_next_refresh_recounts_them(db, period):
    start, end = period
    build(1, start, end)
    refresh_figures(now=noon(end + timedelta(days=1)))
    visit = Appointment.objects.filter(status="completed", start__gte=noon(end - timedelta(days=20)),
                                       start__lt=noon(end)).first()
    Appointment.objects.filter(pk=visit.pk).update(status="no_show")  # marked the next morning, say
    stored, live = both_ways(start=start, end=end)
    assert live["no_shows"] == stored["no_shows"] + 1 and live["visits"] == stored["visits"] - 1

    done = refresh_figures(now=noon(end + timedelta(days=1)))
    assert not done.full and done.first == end - timedelta(days=RECENT_DAYS - 1)
    stored, live = both_ways(start=start, end=end)
    assert figures_of(stored) == figures_of(live)


def test_a_day_older_than_the_recent_window_is_recounted_by_the_full_refresh(db, period):
    start, end = period
    build(1, start, end)
    refresh_figures(now=noon(end + timedelta(days=1)))
    old = Appointment.objects.filter(status="completed", start__lt=noon(start + timedelta(days=10)),
                                     start__gte=noon(start)).first()
    Appointment.objects.filter(pk=old.pk).update(status="no_show")
    refresh_figures(now=noon(end + timedelta(days=1)))
    stored, live = both_ways(start=start, end=end)
    assert stored["no_shows"] == live["no_shows"] - 1

    call_command("refresh_figures", "--full", stdout=None)
    stored, live = both_ways(start=start, end=end)
    assert figures_of(stored) == figures_of(live)


def test_a_changed_late_cancellation_window_sets_the_stored_rows_aside_until_they_are_recounted(db, period):
    start, end = period
    build(1, start, end)
    refresh_figures(now=noon(end + timedelta(days=1)))
    policy = clinic_policy()
    policy.late_cancellation_hours = 96
    policy.save()
    forget_clinic_policy()
    stored, live = both_ways(start=start, end=end)
    assert stored["stored_through"] is None and figures_of(stored) == figures_of(live)
    assert live["late_cancellations"] > 0

    done = refresh_figures()
    assert done.full
    stored, live = both_ways(start=start, end=end)
    assert stored["stored_through"] == end  # the range ends before yesterday, the last day stored
    assert figures_of(stored) == figures_of(live)


def test_a_later_definition_of_the_figures_sets_the_stored_rows_aside(db, period):
    start, end = period
    build(1, start, end)
    refresh_figures()
    FiguresRefresh.objects.update(version=figures.FIGURES_VERSION - 1)
    assert figures.summary(start=start, end=end)["stored_through"] is None
    assert refresh_figures().full


def test_the_overdue_snapshot_is_used_on_its_day_only(db, period):
    start, end = period
    build(1, start, end)
    taken = timezone.now()  # after the clinic's policy was last saved
    refresh_figures(now=taken)
    found = figures.summary(start=start, end=end, now=taken + timedelta(hours=1))
    assert found["overdue_as_of"] == taken
    tomorrow = taken + timedelta(days=1)
    assert figures.summary(start=start, end=end, now=tomorrow)["overdue_as_of"] == tomorrow


def test_the_overdue_snapshot_counts_what_the_clock_counts(db, period):
    from apps.visits.models import Certification, PlanOfCare

    start, end = period
    build(2, start, end)
    policy = clinic_policy()
    policy.plan_of_care_clock, policy.progress_report_every_visits, policy.recertification_days = True, 2, 30
    policy.save()
    forget_clinic_policy()
    # Certified once, long ago; visits without a report: every open plan is overdue for both, one aside.
    plans = list(PlanOfCare.objects.filter(status="open"))
    for plan in plans[1:]:
        Certification.objects.create(plan=plan, signed_on=start, clinician="Dr Lee", recorded_by=plan.therapist)
    refresh_figures()
    stored, live = both_ways(start=start, end=end)
    assert stored["overdue_as_of"] != live["overdue_as_of"]
    assert live["overdue_recertifications"] == len(plans) - 1 and live["overdue_progress_reports"] > 0
    assert figures_of(stored) == figures_of(live)
    assert OverduePlan.objects.filter(recertification=True).count() == len(plans) - 1
    therapist = plans[0].therapist_id
    stored, live = both_ways(start=start, end=end, therapist=therapist)
    assert stored["overdue_as_of"] != live["overdue_as_of"] and figures_of(stored) == figures_of(live)


def test_the_command_and_the_beat_task_store_the_figures(db, period, capsys):
    from apps.reports.tasks import refresh_stored_figures
    from hipclinic.celery import BEAT_SCHEDULE

    start, end = period
    build(1, start, end)
    assert BEAT_SCHEDULE["reports.refresh_figures"]["task"] == refresh_stored_figures.name
    assert BEAT_SCHEDULE["reports.refresh_figures_full"]["kwargs"] == {"full": True}
    message = refresh_stored_figures.delay(full=True).get()
    assert message.startswith(f"figures stored through {clinic_today() - timedelta(days=1)} (every day)")
    assert DayFigures.objects.exists() and FinishedEpisode.objects.exists()
    call_command("refresh_figures")
    assert "figures stored through" in capsys.readouterr().out


def test_the_query_count_does_not_grow_with_the_data_when_read_from_stored_rows(db, period,
                                                                                  django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    start, end = period
    build(1, start, end)
    refresh_figures()
    clinic_policy()
    with CaptureQueriesContext(connection) as small:
        figures.summary(start=start, end=end)
    build(2, start, end)
    refresh_figures()
    with django_assert_num_queries(len(small.captured_queries)):
        figures.summary(start=start, end=end)


@given(st.lists(st.tuples(st.decimals(min_value=-100, max_value=100, places=1, allow_nan=False),
                          st.integers(min_value=1, max_value=5)), max_size=30))
def test_the_median_of_counted_values_is_the_median_of_the_values_written_out(pairs):
    counted = sorted((float(value), n) for value, n in pairs)
    written_out = [value for value, n in counted for _ in range(n)]
    assert figures.weighted_median(counted) == (statistics.median(written_out) if written_out else None)


def test_the_page_and_the_api_say_which_days_come_from_stored_figures(client, db, period):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    start, end = period
    build(1, start, end)
    manager = UserFactory(role="clinic_manager")
    client.force_login(manager)
    page = client.get("/reports/", {"start": start, "end": end}).content.decode()
    assert "Every day is counted from the records now." in page

    refresh_figures()
    page = client.get("/reports/", {"start": start, "end": end}).content.decode()
    assert f"Days up to {end:%-d %B %Y} come from the figures stored at" in page
    api = APIClient()
    api.force_authenticate(manager)
    answer = api.get("/api/v1/reports/summary/", {"start": start, "end": end})
    assert answer.status_code == 200 and answer.data["stored_through"] == end.isoformat()
    assert answer.data["visits"] == figures.summary(start=start, end=end, stored=False)["visits"] > 0
