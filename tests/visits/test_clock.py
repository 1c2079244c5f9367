"""The plan-of-care clock's rules, table by table (apps/visits/clock.py; clinical-reference.md section 8).

A plan's visits are written as a string, one letter a visit, three days apart from
Monday 5 January 2026 (the first treatment): ``x`` happened, ``r`` happened with a
progress report (or re-evaluation, or discharge summary) written at it, ``b`` booked.
So visit 10 falls on Sunday 1 February, and a ``b`` on a day before ``today`` is a
booking left open in the past (never checked in nor marked missed).
"""

from datetime import date, timedelta

import pytest

from apps.visits.clock import PlanFacts, Rules, Visit, due_by, due_items, report_visit

FIRST = date(2026, 1, 5)
STARTED = date(2026, 1, 1)  # the plan was written a few days before the first treatment
RULES = Rules()  # 30 days, 90 days, every 10 visits: the defaults of ClinicPolicy


def series(codes: str, *, first: date = FIRST, step: int = 3) -> tuple[Visit, ...]:
    return tuple(Visit(appointment_id=n, day=first + timedelta(days=step * (n - 1)), happened=code in "xr",
                       report=code == "r")
                 for n, code in enumerate(codes, start=1))


def plan(codes: str = "", *, extra: tuple[Visit, ...] = (), certified=(), weeks: int = 12,
         discharged: bool = False) -> PlanFacts:
    return PlanFacts(started_on=STARTED, duration_weeks=weeks, visits=series(codes) + extra,
                     certified_on=tuple(certified), discharged=discharged)


def items(facts: PlanFacts, today: date, what: str, rules: Rules = RULES) -> list[tuple]:
    return [(d.due_on, d.at_visit, d.appointment_id, d.overdue) for d in due_items(facts, rules, today)
            if d.what == what]


# ---------------------------------------------------------------------------- certification


@pytest.mark.parametrize(
    ("codes", "today", "expected"),
    [
        pytest.param("", date(2026, 1, 5), [], id="no-visit-yet-no-deadline"),
        pytest.param("bb", date(2026, 1, 5), [], id="only-booked-visits-no-deadline"),
        pytest.param("xx", date(2026, 1, 10), [(date(2026, 2, 4), None, None, False)],
                     id="due-30-days-after-the-first-treatment"),
        pytest.param("xx", date(2026, 2, 4), [(date(2026, 2, 4), None, None, False)], id="on-the-day-still-due"),
        pytest.param("xx", date(2026, 2, 5), [(date(2026, 2, 4), None, None, True)], id="overdue-the-day-after"),
        pytest.param("bxx", date(2026, 1, 10), [(date(2026, 2, 7), None, None, False)],
                     id="a-missed-first-booking-is-not-the-first-treatment"),
    ],
)
def test_certification_is_due_within_30_days_of_the_first_treatment(codes, today, expected):
    assert items(plan(codes), today, "certification") == expected


def test_the_certification_deadline_is_the_clinics_choice():
    rules = Rules(certification_due_days=14)
    assert items(plan("x"), date(2026, 1, 20), "certification", rules) == [(date(2026, 1, 19), None, None, True)]


def test_a_certified_plan_asks_for_no_certification():
    assert items(plan("xx", certified=[date(2026, 1, 20)]), date(2026, 3, 1), "certification") == []


# ---------------------------------------------------------------------------- re-certification


@pytest.mark.parametrize(
    ("codes", "certified", "today", "expected"),
    [
        pytest.param("xx", [], date(2026, 4, 10), [], id="none-before-the-first-certification"),
        pytest.param("xx", [date(2026, 1, 20)], date(2026, 2, 5), [(date(2026, 4, 5), None, None, False)],
                     id="90-days-from-the-first-treatment"),
        pytest.param("xx", [date(2026, 1, 20)], date(2026, 4, 5), [(date(2026, 4, 5), None, None, False)],
                     id="due-on-day-90"),
        pytest.param("xx", [date(2026, 1, 20)], date(2026, 4, 6), [(date(2026, 4, 5), None, None, True)],
                     id="overdue-on-day-91"),
        pytest.param("xx", [date(2026, 1, 20), date(2026, 4, 1)], date(2026, 4, 6),
                     [(date(2026, 7, 4), None, None, False)], id="re-certified-early-the-next-period-chains-on"),
        pytest.param("xx", [date(2026, 1, 20), date(2026, 4, 1), date(2026, 6, 30)], date(2026, 7, 1),
                     [(date(2026, 10, 2), None, None, False)], id="three-periods-chained"),
        pytest.param("xx", [date(2026, 1, 20), date(2026, 4, 20)], date(2026, 4, 21),
                     [(date(2026, 7, 19), None, None, False)], id="re-certified-late-the-period-runs-from-its-date"),
        pytest.param("", [date(2026, 1, 2)], date(2026, 1, 3), [(date(2026, 4, 1), None, None, False)],
                     id="certified-before-any-treatment-counts-from-the-plans-start"),
    ],
)
def test_re_certification_is_due_every_90_days(codes, certified, today, expected):
    assert items(plan(codes, certified=certified), today, "recertification") == expected


def test_the_re_certification_period_is_the_clinics_choice():
    rules = Rules(recertification_days=60)
    facts = plan("xx", certified=[date(2026, 1, 20), date(2026, 3, 1)])
    assert items(facts, date(2026, 3, 2), "recertification", rules) == [(date(2026, 5, 5), None, None, False)]


# ---------------------------------------------------------------------------- progress report


@pytest.mark.parametrize(
    ("codes", "today", "expected"),
    [
        pytest.param("", date(2026, 1, 1), [(None, 10, None, False)], id="before-any-visit-at-visit-10"),
        pytest.param("x" * 9, date(2026, 1, 30), [(None, 10, None, False)], id="nine-visits-not-yet"),
        pytest.param("x" * 9 + "b", date(2026, 1, 30), [(date(2026, 2, 1), 10, 10, False)],
                     id="the-10th-visit-is-booked"),
        pytest.param("x" * 10, date(2026, 2, 1), [(date(2026, 2, 1), 10, 10, False)],
                     id="the-10th-visit-is-today"),
        pytest.param("x" * 10, date(2026, 2, 2), [(date(2026, 2, 1), 10, 10, True)],
                     id="overdue-after-the-10th-visit-without-one"),
        pytest.param("x" * 9 + "r" + "x" * 5, date(2026, 2, 20), [(None, 20, None, False)],
                     id="a-report-at-visit-10-moves-the-next-to-visit-20"),
        pytest.param("x" * 11 + "r" + "x" * 9 + "b", date(2026, 3, 8), [(date(2026, 3, 9), 22, 22, False)],
                     id="a-late-report-at-visit-12-moves-the-next-to-visit-22"),
        pytest.param("x" * 9 + "bb", date(2026, 2, 2), [(date(2026, 2, 4), 10, 11, False)],
                     id="a-booking-left-open-in-the-past-is-not-a-visit"),
    ],
)
def test_a_progress_report_is_due_every_10_visits(codes, today, expected):
    assert items(plan(codes, certified=[date(2026, 1, 20)]), today, "progress_report") == expected


def test_the_progress_report_interval_is_the_clinics_choice():
    rules = Rules(progress_every=5)
    assert items(plan("xxxxx"), date(2026, 1, 17), "progress_report", rules) == [(date(2026, 1, 17), 5, 5, False)]


# ---------------------------------------------------------------------------- discharge summary

# Six weeks from the first treatment (5 January) end on 16 February; eight visits end on 26 January.
LATER = (Visit(appointment_id=9, day=date(2026, 2, 20), happened=False),)
LATER_DONE = (Visit(appointment_id=9, day=date(2026, 2, 20), happened=True),)


@pytest.mark.parametrize(
    ("codes", "extra", "today", "expected"),
    [
        pytest.param("x" * 8, (), date(2026, 2, 15), [], id="the-plans-weeks-are-not-over"),
        pytest.param("x" * 8, (), date(2026, 2, 16), [(date(2026, 2, 16), None, 8, False)],
                     id="due-when-the-weeks-are-over-and-nothing-is-booked"),
        pytest.param("x" * 8, (), date(2026, 2, 17), [(date(2026, 2, 16), None, 8, True)], id="overdue-the-day-after"),
        pytest.param("x" * 8, LATER, date(2026, 2, 17), [], id="not-while-a-visit-is-booked"),
        pytest.param("x" * 8 + "b", (), date(2026, 2, 17), [(date(2026, 2, 16), None, 8, True)],
                     id="a-booking-left-open-in-the-past-does-not-hold-it-back"),
        pytest.param("x" * 8, LATER_DONE, date(2026, 2, 20), [(date(2026, 2, 20), None, 9, False)],
                     id="visits-beyond-the-weeks-move-it-to-the-last-one"),
        pytest.param("", (), date(2026, 3, 1), [], id="not-for-a-plan-never-started"),
    ],
)
def test_a_discharge_summary_is_due_after_the_last_visit(codes, extra, today, expected):
    facts = plan(codes, extra=extra, certified=[date(2026, 1, 20)], weeks=6)
    assert items(facts, today, "discharge_summary") == expected


def test_a_due_discharge_summary_replaces_the_progress_report():
    facts = plan("x" * 8, certified=[date(2026, 1, 20)], weeks=6)
    whats = [d.what for d in due_items(facts, RULES, date(2026, 2, 20))]
    assert whats == ["discharge_summary", "recertification"]


# ---------------------------------------------------------------------------- the list as a whole


def test_a_discharged_plan_has_nothing_due():
    facts = plan("x" * 12, discharged=True)  # uncertified, and ten visits without a report
    assert due_items(facts, RULES, date(2026, 6, 1)) == []
    assert report_visit(facts, RULES, date(2026, 2, 1)) is None


def test_overdue_items_come_first_then_the_soonest():
    facts = plan("x" * 10 + "b")  # certification overdue since 4 February; report overdue since 1 February
    whats = [(d.what, d.overdue) for d in due_items(facts, RULES, date(2026, 2, 6))]
    assert whats == [("progress_report", True), ("certification", True)]
    assert [d.what for d in due_items(plan("x" * 9 + "b"), RULES, date(2026, 1, 30))] == [
        "progress_report", "certification"]  # 1 February, then 4 February


# ---------------------------------------------------------------------------- the visit to book longer


@pytest.mark.parametrize(
    ("codes", "today", "expected"),
    [
        pytest.param("x" * 9 + "b", date(2026, 1, 30), 10, id="the-10th-visit"),
        pytest.param("x" * 10, date(2026, 2, 1), 10, id="the-10th-visit-today"),
        pytest.param("x" * 10 + "bb", date(2026, 2, 3), 11, id="missed-at-the-10th-so-the-next-one"),
        pytest.param("x" * 10, date(2026, 2, 3), None, id="missed-and-nothing-booked"),
        pytest.param("x" * 8 + "b", date(2026, 1, 27), None, id="not-yet-at-the-9th"),
        pytest.param("x" * 9 + "rbb", date(2026, 2, 3), None, id="written-at-the-10th"),
    ],
)
def test_the_visit_to_book_for_a_progress_report(codes, today, expected):
    assert report_visit(plan(codes, certified=[date(2026, 1, 20)]), RULES, today) == expected


def test_due_by_keeps_the_overdue_and_the_dated_items_up_to_a_day():
    facts = plan("x" * 9 + "b", certified=[date(2026, 1, 20)])  # report on 1 February, re-certification 5 April
    items = due_items(facts, RULES, date(2026, 1, 30))
    assert [d.what for d in due_by(items, date(2026, 2, 6))] == ["progress_report"]
    assert [d.what for d in due_by(items, date(2026, 4, 5))] == ["progress_report", "recertification"]
    assert due_by(due_items(plan("x" * 3), RULES, date(2026, 1, 12)), date(2026, 1, 19)) == []  # undated report
