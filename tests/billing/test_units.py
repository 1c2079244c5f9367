"""Billable units of one day (apps/billing/units): minutes per code in, units per code out, no database.

The rules are clinical-reference.md section 9: the CMS 8-minute rule over the day's total timed
minutes, and the AMA rule of eights per code. Tables for the worked examples and the edges, then
properties over random days (hypothesis, derandomized: the same examples every run).
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing.units import RULES, Line, Units, total_time_units, units_for_day

CMS, AMA = RULES

# Deterministic in CI: derandomize draws the examples from the test's own source, no example
# database is read or written. too_slow is the one health check that depends on the machine.
PROPERTY = settings(
    max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)

TIMED_CODES = ("97110", "97112", "97116", "97140", "97530", "97535", "97032", "97035")
UNTIMED_CODES = ("97161", "97162", "97163", "97164")


def day(*lines) -> list[Line]:
    """day(("97110", 23), ("97161", 45, False)): timed unless the third value says not."""
    return [Line(*line) if len(line) == 3 else Line(*line, True) for line in lines]


def units_by_code(lines, rule) -> dict[str, int]:
    return {row.code: row.units for row in units_for_day(lines, rule)}


# ---------------------------------------------------------------------------- the table


@pytest.mark.parametrize(
    ("minutes", "units"),
    [(0, 0), (1, 0), (7, 0), (8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (52, 3), (53, 4), (67, 4), (68, 5),
     (82, 5), (83, 6), (97, 6), (98, 7)],
)
def test_total_time_units_are_section_9s_table(minutes, units):
    assert total_time_units(minutes) == units


def test_total_time_units_are_one_at_8_minutes_then_one_more_each_further_15():
    for minutes in range(1000):
        assert total_time_units(minutes) == (0 if minutes < 8 else 1 + (minutes - 8) // 15), minutes


# ---------------------------------------------------------------------------- CMS: the day's total


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        # Section 9's worked examples.
        pytest.param(day(("97112", 24), ("97110", 23)), {"97112": 2, "97110": 1}, id="47 min: 2 x 97112, 1 x 97110"),
        pytest.param(day(("97110", 33), ("97140", 7)), {"97110": 2, "97140": 1}, id="40 min: 7 left over beats 3"),
        # One code: the table.
        pytest.param(day(("97110", 0)), {"97110": 0}, id="0 minutes"),
        pytest.param(day(("97110", 7)), {"97110": 0}, id="7 minutes"),
        pytest.param(day(("97110", 8)), {"97110": 1}, id="8 minutes"),
        pytest.param(day(("97110", 22)), {"97110": 1}, id="22 minutes"),
        pytest.param(day(("97110", 23)), {"97110": 2}, id="23 minutes"),
        # Short services add up: 7 or less each, 8 or more together bill the one with the most.
        pytest.param(day(("97110", 3), ("97140", 5)), {"97110": 0, "97140": 1}, id="3 + 5 = 8: the 5"),
        pytest.param(day(("97110", 3), ("97140", 4)), {"97110": 0, "97140": 0}, id="3 + 4 = 7: nothing"),
        pytest.param(day(("97110", 18), ("97140", 13), ("97116", 10), ("97035", 8)),
                     {"97110": 1, "97140": 1, "97116": 1, "97035": 0}, id="49 min over four codes"),
        pytest.param(day(("97110", 44), ("97140", 0)), {"97110": 3, "97140": 0}, id="a code with 0 minutes"),
        # The 15-minute guarantees always fit in the total.
        pytest.param(day(("97110", 15), ("97140", 15)), {"97110": 1, "97140": 1}, id="15 + 15"),
        pytest.param(day(("97110", 15), ("97140", 15), ("97112", 15)), {"97110": 1, "97140": 1, "97112": 1},
                     id="15 + 15 + 15"),
        pytest.param(day(("97110", 15), ("97140", 7)), {"97110": 1, "97140": 0}, id="15 + 7 = 22: 1 unit"),
        pytest.param(day(("97110", 14), ("97140", 14), ("97112", 14)), {"97110": 1, "97140": 1, "97112": 1},
                     id="14 x 3 = 42: every remainder billed"),
        # Ties: more minutes in all first, then code order, never the order of the lines.
        pytest.param(day(("97140", 7), ("97110", 7)), {"97110": 1, "97140": 0}, id="7 + 7: code order"),
        pytest.param(day(("97140", 8), ("97110", 8)), {"97110": 1, "97140": 0}, id="8 + 8 = 16: code order"),
        pytest.param(day(("97110", 8), ("97140", 23)), {"97110": 0, "97140": 2}, id="8 left each: more minutes"),
        pytest.param(day(("97110", 15), ("97140", 7), ("97112", 7)), {"97110": 1, "97112": 1, "97140": 0},
                     id="15 + 7 + 7 = 29"),
        pytest.param(day(*((code, 13) for code in ("97535", "97530", "97140", "97116", "97112", "97110"))),
                     {"97110": 1, "97112": 1, "97116": 1, "97140": 1, "97530": 1, "97535": 0},
                     id="13 x 6 = 78: 5 units, the last code goes without"),
        # Untimed codes: a unit each, their minutes count toward nothing.
        pytest.param(day(("97161", 45, False)), {"97161": 1}, id="only an evaluation"),
        pytest.param(day(("97161", 0, False), ("97164", 30, False)), {"97161": 1, "97164": 1}, id="only untimed"),
        pytest.param(day(("97161", 45, False), ("97110", 20)), {"97161": 1, "97110": 1}, id="evaluation + 20 min"),
        pytest.param(day(("97163", 60, False), ("97110", 7)), {"97163": 1, "97110": 0},
                     id="evaluation + 7 min: the 7 stay alone"),
        pytest.param([], {}, id="no lines"),
    ],
)
def test_cms_total_time(lines, expected):
    assert units_by_code(lines, CMS) == expected


# ---------------------------------------------------------------------------- AMA: each code alone


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(day(("97112", 24), ("97110", 23)), {"97112": 2, "97110": 2}, id="24 + 23: 4 units, not 3"),
        pytest.param(day(("97110", 33), ("97140", 7)), {"97110": 2, "97140": 0}, id="33 + 7: the 7 are lost"),
        pytest.param(day(("97110", 7), ("97140", 7), ("97112", 7)), {"97110": 0, "97140": 0, "97112": 0},
                     id="7 x 3: nothing"),
        pytest.param(day(("97140", 8), ("97110", 8)), {"97110": 1, "97140": 1}, id="8 + 8: 2 units, not 1"),
        pytest.param(day(("97110", 0), ("97140", 22), ("97112", 38)), {"97110": 0, "97140": 1, "97112": 3},
                     id="0, 22, 38"),
        pytest.param(day(("97161", 45, False), ("97110", 7)), {"97161": 1, "97110": 0}, id="evaluation + 7 min"),
    ],
)
def test_ama_per_code(lines, expected):
    assert units_by_code(lines, AMA) == expected


# ---------------------------------------------------------------------------- the rows and their reasons


def test_the_worked_examples_say_why():
    assert units_for_day(day(("97110", 33), ("97140", 7), ("97161", 45, False)), CMS) == [
        Units("97110", 2, 33, ("day's timed minutes 40: 3 units in all",
                               "15 minutes or more: 2 units for 30 full minutes",
                               "3 minutes left over: fewer than the remainders billed")),
        Units("97140", 1, 7, ("day's timed minutes 40: 3 units in all",
                              "largest remainder: a unit for 7 minutes left over")),
        Units("97161", 1, 45, ("untimed: one unit, its minutes not counted",)),
    ]
    assert units_for_day(day(("97110", 33), ("97140", 7)), AMA) == [
        Units("97110", 2, 33, ("rule of eights, this code on its own: 33 minutes, 2 units",)),
        Units("97140", 0, 7, ("rule of eights, this code on its own: 7 minutes, under 8, no unit",)),
    ]


def test_a_tie_says_how_it_was_broken():
    rows = {row.code: row for row in units_for_day(day(("97140", 7), ("97110", 7)), CMS)}
    assert "tie at 7 minutes left over: billed by more minutes in all, then code order" in rows["97110"].reasons
    assert "tie at 7 minutes left over: not billed by more minutes in all, then code order" in rows["97140"].reasons


def test_a_remainder_with_no_unit_left_says_so():
    (row,) = units_for_day(day(("97110", 22)), CMS)
    assert row.reasons[-1] == "7 minutes left over: the day's total leaves no unit for them"


def test_every_line_has_a_row_in_the_lines_order():
    lines = day(("97140", 0), ("97161", 0, False), ("97110", 3))
    for rule in RULES:
        assert [(row.code, row.units, row.minutes) for row in units_for_day(lines, rule)] == [
            ("97140", 0, 0), ("97161", 1, 0), ("97110", 0, 3)]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (("97110", -1, True), "97110: minutes cannot be negative, got -1"),
        (("97110", 7.5, True), "97110: minutes must be a whole number of minutes, got 7.5"),
        (("97110", "8", True), "97110: minutes must be a whole number of minutes, got '8'"),
        (("97110", True, True), "97110: minutes must be a whole number of minutes, got True"),
        (("", 8, True), "a line needs a code, got ''"),
        (("  ", 8, True), "a line needs a code, got '  '"),
        ((None, 8, True), "a line needs a code, got None"),
        (("97110", 8, "yes"), "97110: timed must be True or False, got 'yes'"),
    ],
)
def test_a_line_that_cannot_be_right_is_refused(values, message):
    with pytest.raises(ValueError) as refused:
        Line(*values)
    assert str(refused.value) == message


def test_a_code_given_twice_is_refused():
    lines = day(("97110", 10), ("97140", 8), ("97110", 5), ("97161", 0, False), ("97161", 30, False))
    for rule in RULES:
        with pytest.raises(ValueError, match=r"^duplicate codes 97110, 97161: give each code once, with its minutes"):
            units_for_day(lines, rule)


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match=r"^unknown rule 'medicare': expected one of cms_total_time, ama_per_code$"):
        units_for_day(day(("97110", 10)), "medicare")


def test_negative_total_minutes_are_refused():
    with pytest.raises(ValueError, match="total minutes cannot be negative"):
        total_time_units(-8)


# ---------------------------------------------------------------------------- properties over random days


@st.composite
def days(draw, *, untimed=True) -> list[Line]:
    """1-6 timed codes of 0-120 minutes, and with ``untimed`` 0-2 evaluations, in any order."""
    codes = draw(st.lists(st.sampled_from(TIMED_CODES), min_size=1, max_size=6, unique=True))
    lines = [Line(code, draw(st.integers(0, 120)), True) for code in codes]
    if untimed:
        codes = draw(st.lists(st.sampled_from(UNTIMED_CODES), max_size=2, unique=True))
        lines += [Line(code, draw(st.integers(0, 120)), False) for code in codes]
    return draw(st.permutations(lines))


def timed_rows(lines, rule) -> list[tuple[Line, Units]]:
    return [(line, row) for line, row in zip(lines, units_for_day(lines, rule), strict=True) if line.timed]


def one_unit_at_a_time(lines) -> dict[str, int]:
    """Section 9 read another way: each of the day's units in turn goes to the code with the most
    minutes not yet billed (a unit bills 15), ties as the module breaks them."""
    minutes = {line.code: line.minutes for line in lines if line.timed}
    unbilled = dict(minutes)
    units = dict.fromkeys(minutes, 0)
    for _ in range(total_time_units(sum(minutes.values()))):
        code = min(unbilled, key=lambda c: (-unbilled[c], -minutes[c], c))
        unbilled[code] -= 15
        units[code] += 1
    return units


@PROPERTY
@given(days())
def test_cms_bills_exactly_the_table_units_of_the_days_timed_minutes(lines):
    rows = timed_rows(lines, CMS)
    assert sum(row.units for _, row in rows) == total_time_units(sum(line.minutes for line, _ in rows))


@PROPERTY
@given(days(untimed=False))
def test_the_full_15_minute_units_always_fit_in_the_days_total(lines):
    # The lemma of the module's docstring: no code's guaranteed unit ever has to be taken back.
    assert sum(line.minutes // 15 for line in lines) <= total_time_units(sum(line.minutes for line in lines))


@PROPERTY
@given(days())
def test_cms_gives_each_code_its_full_15s_and_at_most_one_more_for_minutes_left_over(lines):
    for line, row in timed_rows(lines, CMS):
        assert line.minutes // 15 <= row.units <= -(-line.minutes // 15), (line, row)  # floor .. ceil of minutes/15
        if line.minutes == 0:
            assert row.units == 0  # no unit without minutes
        if line.minutes >= 15:
            assert row.units >= 1
        assert abs(row.units - total_time_units(line.minutes)) <= 1  # never more than 1 from the rule of eights


@PROPERTY
@given(days(untimed=False))
def test_cms_gives_the_last_units_to_the_largest_remainders(lines):
    def rank(line):
        return (-(line.minutes % 15), -line.minutes, line.code)

    rows = timed_rows(lines, CMS)
    extra = [line for line, row in rows if row.units > line.minutes // 15]
    passed_over = [line for line, row in rows if row.units == line.minutes // 15 and line.minutes % 15]
    for billed in extra:
        for other in passed_over:
            assert rank(billed) < rank(other), (billed, other)


@PROPERTY
@given(days())
def test_cms_is_the_same_as_billing_one_unit_at_a_time_to_the_most_unbilled_minutes(lines):
    assert {line.code: row.units for line, row in timed_rows(lines, CMS)} == one_unit_at_a_time(lines)


@PROPERTY
@given(st.sampled_from(TIMED_CODES), st.integers(0, 500))
def test_one_timed_code_alone_bills_the_same_under_both_rules(code, minutes):
    assert units_by_code([Line(code, minutes, True)], CMS) == units_by_code([Line(code, minutes, True)], AMA)


@PROPERTY
@given(days())
def test_ama_bills_each_timed_code_by_the_table_on_its_own(lines):
    for line, row in timed_rows(lines, AMA):
        assert row.units == total_time_units(line.minutes)


@PROPERTY
@given(days(), st.sampled_from(RULES))
def test_untimed_codes_are_one_unit_each(lines, rule):
    for line, row in zip(lines, units_for_day(lines, rule), strict=True):
        if not line.timed:
            assert (row.units, row.minutes) == (1, line.minutes)


@PROPERTY
@given(st.data(), days(), st.sampled_from(RULES))
def test_the_order_of_the_lines_changes_nothing(data, lines, rule):
    shuffled = data.draw(st.permutations(lines))
    rows = units_for_day(lines, rule)
    rows_shuffled = units_for_day(shuffled, rule)
    assert [row.code for row in rows_shuffled] == [line.code for line in shuffled]
    assert sorted(rows_shuffled, key=lambda row: row.code) == sorted(rows, key=lambda row: row.code)
