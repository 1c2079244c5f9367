"""Slot arithmetic (apps/scheduling/slots.py): plain values in, plain values out, no database."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.scheduling.slots import WeeklyBlock, covers, free_slots, local_to_utc, merge, working_blocks

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MINUTES = timedelta(minutes=1)


def utc(text: str) -> datetime:
    """'2026-03-23 09:00' as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def interval(text: str) -> tuple[datetime, datetime]:
    """'2026-03-23 09:00-10:00' (same day) as a UTC interval."""
    day, times = text.split(" ")
    start, end = times.split("-")
    return utc(f"{day} {start}"), utc(f"{day} {end}")


def starts(slots) -> list[str]:
    return [f"{start:%H:%M}" for start, _end in slots]


# ---------------------------------------------------------------------------- wall clock to UTC

# 2026 in Europe/London: clocks go forward at 01:00 UTC on 29 March, back at 01:00 UTC on 25 October.
@pytest.mark.parametrize(
    ("day", "wall", "zone", "expected"),
    [
        (date(2026, 1, 12), time(9), LONDON, "2026-01-12 09:00"),  # GMT
        (date(2026, 6, 15), time(9), LONDON, "2026-06-15 08:00"),  # BST
        (date(2026, 3, 29), time(0, 30), LONDON, "2026-03-29 00:30"),  # before the jump
        (date(2026, 3, 29), time(1, 30), LONDON, "2026-03-29 01:00"),  # skipped: the jump itself
        (date(2026, 3, 29), time(1, 0), LONDON, "2026-03-29 01:00"),  # skipped: the jump itself
        (date(2026, 3, 29), time(2, 0), LONDON, "2026-03-29 01:00"),  # first wall time after the jump
        (date(2026, 3, 29), time(9), LONDON, "2026-03-29 08:00"),
        (date(2026, 10, 25), time(1, 30), LONDON, "2026-10-25 00:30"),  # shown twice: the first time
        (date(2026, 10, 25), time(2, 0), LONDON, "2026-10-25 02:00"),
        (date(2026, 10, 25), time(9), LONDON, "2026-10-25 09:00"),
        (date(2026, 3, 8), time(2, 30), NEW_YORK, "2026-03-08 07:00"),  # skipped in New York: 03:00 EDT
    ],
)
def test_a_wall_clock_time_becomes_the_first_instant_the_clocks_show_it(day, wall, zone, expected):
    assert local_to_utc(day, wall, zone) == utc(expected)


# ---------------------------------------------------------------------------- weekly hours to intervals

NINE_TO_FIVE = [WeeklyBlock(day, time(9), time(17)) for day in range(5)]


@pytest.mark.parametrize(
    ("weekly", "first_day", "last_day", "expected"),
    [
        pytest.param(
            NINE_TO_FIVE, date(2026, 3, 27), date(2026, 3, 30),  # Fri, Sat, Sun (DST starts), Mon
            ["2026-03-27 09:00-17:00", "2026-03-30 08:00-16:00"],
            id="weekend-skipped-and-bst-begins",
        ),
        pytest.param(
            NINE_TO_FIVE, date(2026, 10, 23), date(2026, 10, 26),  # Fri (BST), Sat, Sun (GMT again), Mon
            ["2026-10-23 08:00-16:00", "2026-10-26 09:00-17:00"],
            id="bst-ends",
        ),
        pytest.param(
            [WeeklyBlock(6, time(0), time(3))], date(2026, 3, 29), date(2026, 3, 29),
            ["2026-03-29 00:00-02:00"],
            id="spring-forward-night-block-is-two-hours",
        ),
        pytest.param(
            [WeeklyBlock(6, time(0), time(3))], date(2026, 10, 25), date(2026, 10, 25),
            [(utc("2026-10-24 23:00"), utc("2026-10-25 03:00"))],
            id="fall-back-night-block-is-four-hours",
        ),
        pytest.param(
            [WeeklyBlock(6, time(1, 15), time(1, 45))], date(2026, 3, 29), date(2026, 3, 29),
            [],
            id="block-inside-the-skipped-hour-has-no-time",
        ),
        pytest.param(
            [WeeklyBlock(0, time(13), time(17)), WeeklyBlock(0, time(9), time(12))],
            date(2026, 3, 23), date(2026, 3, 23),
            ["2026-03-23 09:00-12:00", "2026-03-23 13:00-17:00"],
            id="two-blocks-a-day-sorted",
        ),
        pytest.param(NINE_TO_FIVE, date(2026, 3, 24), date(2026, 3, 23), [], id="empty-range"),
    ],
)
def test_weekly_hours_become_utc_intervals_for_each_local_day(weekly, first_day, last_day, expected):
    expected = [interval(item) if isinstance(item, str) else item for item in expected]

    assert working_blocks(weekly=weekly, first_day=first_day, last_day=last_day, zone=LONDON) == expected


# ---------------------------------------------------------------------------- free slots

DAY = "2026-03-23"  # a Monday, GMT
STEP = timedelta(minutes=15)


@pytest.mark.parametrize(
    ("blocks", "busy", "minutes", "not_before", "expected"),
    [
        pytest.param(["09:00-11:00"], [], 60, None, ["09:00", "09:15", "09:30", "09:45", "10:00"], id="empty-block"),
        pytest.param(
            ["09:00-11:00"], ["09:00-10:00"], 30, None, ["10:00", "10:15", "10:30"],
            id="back-to-back-after-a-booking",
        ),
        pytest.param(
            ["09:00-11:00"], ["10:00-11:00"], 30, None, ["09:00", "09:15", "09:30"],
            id="back-to-back-before-a-booking",
        ),
        pytest.param(
            ["09:00-12:00"], ["10:00-10:30"], 60, None, ["09:00", "10:30", "10:45", "11:00"],
            id="a-booking-splits-the-block",
        ),
        pytest.param(
            ["09:00-12:00"], ["09:40-10:10", "10:10-10:50"], 30, None, ["09:00", "11:00", "11:15", "11:30"],
            id="touching-bookings-merge-and-starts-stay-on-the-grid",
        ),
        pytest.param(
            ["09:00-10:00"], ["09:20-09:25"], 15, None, ["09:00", "09:30", "09:45"],
            id="off-grid-booking-pushes-to-the-next-grid-line",
        ),
        pytest.param(["09:00-10:00"], ["09:00-09:30", "09:45-10:00"], 30, None, [], id="longer-than-any-gap"),
        pytest.param(["09:00-17:00"], ["00:00-23:59"], 30, None, [], id="time-off-covering-the-day"),
        pytest.param(
            ["09:10-10:10"], [], 30, None, ["09:10", "09:25", "09:40"],
            id="grid-runs-from-the-block-start",
        ),
        pytest.param(
            ["09:00-10:30"], [], 30, "09:05", ["09:15", "09:30", "09:45", "10:00"],
            id="nothing-before-now-and-next-start-on-the-grid",
        ),
        pytest.param(["09:00-10:00"], [], 30, "09:30", ["09:30"], id="a-slot-starting-now-is-offered"),
        pytest.param(["09:00-10:00"], [], 30, "11:00", [], id="all-past"),
        pytest.param(
            ["09:00-10:00", "10:00-11:00"], [], 60, None, ["09:00", "10:00"],
            id="a-slot-never-straddles-two-blocks",
        ),
        pytest.param(
            ["09:00-10:00", "09:30-10:30"], [], 30, None, ["09:00", "09:15", "09:30", "09:45", "10:00"],
            id="overlapping-blocks-give-no-duplicates",
        ),
        pytest.param(["09:00-09:20"], [], 30, None, [], id="block-shorter-than-the-kind"),
    ],
)
def test_free_slots_are_working_time_minus_busy_time_on_the_grid(blocks, busy, minutes, not_before, expected):
    found = free_slots(
        blocks=[interval(f"{DAY} {b}") for b in blocks],
        busy=[interval(f"{DAY} {b}") for b in busy],
        duration=minutes * MINUTES,
        step=STEP,
        not_before=utc(f"{DAY} {not_before}") if not_before else None,
    )

    assert starts(found) == expected
    assert all(end - start == minutes * MINUTES for start, end in found)


def test_busy_time_on_other_days_or_spanning_several_days_is_respected():
    blocks = [interval(f"2026-03-{day} 09:00-10:00") for day in (23, 24, 26)]
    busy = [(utc("2026-03-23 09:30"), utc("2026-03-25 12:00"))]  # a time off over two nights

    found = free_slots(blocks=blocks, busy=busy, duration=30 * MINUTES, step=STEP)

    assert found == [
        interval("2026-03-23 09:00-09:30"),
        interval("2026-03-26 09:00-09:30"),
        interval("2026-03-26 09:15-09:45"),
        interval("2026-03-26 09:30-10:00"),
    ]


def test_slots_end_by_not_after():
    found = free_slots(
        blocks=[interval(f"{DAY} 09:00-12:00")], busy=[], duration=60 * MINUTES, step=STEP,
        not_after=utc(f"{DAY} 10:30"),
    )

    assert starts(found) == ["09:00", "09:15", "09:30"]


@pytest.mark.parametrize(
    ("day", "expected_utc_starts"),
    [
        # Sunday 29 March 2026: a 00:00-03:00 local block is 00:00-02:00 UTC (two real hours).
        (date(2026, 3, 29), ["00:00", "00:30", "01:00", "01:30"]),
        # Sunday 25 October 2026: 00:00 BST-03:00 GMT is 23:00-03:00 UTC (four real hours).
        (date(2026, 10, 25), ["23:00", "23:30", "00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]),
    ],
)
def test_dst_days_offer_slots_for_the_real_hours_worked(day, expected_utc_starts):
    blocks = working_blocks(weekly=[WeeklyBlock(6, time(0), time(3))], first_day=day, last_day=day, zone=LONDON)

    found = free_slots(blocks=blocks, busy=[], duration=30 * MINUTES, step=30 * MINUTES)

    assert starts(found) == expected_utc_starts
    assert [f"{start.astimezone(LONDON):%H:%M}" for start, _ in found][:3] == (
        ["00:00", "00:30", "02:00"] if day.month == 3 else ["00:00", "00:30", "01:00"]
    )


def test_working_hours_on_dst_days_keep_their_wall_clock_times():
    for day in (date(2026, 3, 30), date(2026, 10, 26)):  # the Mondays after each change
        blocks = working_blocks(weekly=NINE_TO_FIVE, first_day=day, last_day=day, zone=LONDON)
        found = free_slots(blocks=blocks, busy=[], duration=60 * MINUTES, step=STEP)

        local = [start.astimezone(LONDON) for start, _end in found]
        assert (f"{local[0]:%H:%M}", f"{local[-1]:%H:%M}", len(local)) == ("09:00", "16:00", 29)


@pytest.mark.parametrize(("duration", "step"), [(timedelta(0), STEP), (30 * MINUTES, timedelta(0))])
def test_free_slots_refuses_a_zero_duration_or_step(duration, step):
    with pytest.raises(ValueError, match="positive"):
        free_slots(blocks=[], busy=[], duration=duration, step=step)


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        (["09:00-10:00", "10:00-11:00"], ["09:00-11:00"]),
        (["10:00-11:00", "09:00-09:30", "09:15-09:45"], ["09:00-09:45", "10:00-11:00"]),
        (["09:00-12:00", "10:00-11:00"], ["09:00-12:00"]),
    ],
)
def test_merge_joins_overlapping_and_touching_intervals(given, expected):
    assert merge(interval(f"{DAY} {g}") for g in given) == [interval(f"{DAY} {e}") for e in expected]


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("09:00-17:00", True),
        ("16:30-17:00", True),
        ("16:45-17:15", False),
        ("08:45-09:15", False),
        ("11:30-13:30", False),  # straddles two blocks with a lunch between
    ],
)
def test_covers_needs_the_whole_interval_inside_one_block(wanted, expected):
    blocks = [interval(f"{DAY} 09:00-12:00"), interval(f"{DAY} 13:00-17:00")]
    blocks = [interval(f"{DAY} 09:00-17:00")] if wanted == "09:00-17:00" else blocks

    assert covers(blocks, *interval(f"{DAY} {wanted}")) is expected
