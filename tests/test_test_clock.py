"""The tools that make tests mean the same at any hour: the patient's zone chosen by the hour, the pinned clock."""

from datetime import UTC, datetime, time, timedelta

import pytest

from tests import conftest
from tests.realparts import zone_where_it_is

EVERY_QUARTER_HOUR_OF_A_DAY = [datetime(2026, 12, 2, tzinfo=UTC) + timedelta(minutes=15 * n) for n in range(96)]


@pytest.mark.parametrize("wanted", [time(14, 0), time(23, 30), time(8, 0), time(0, 0)], ids=str)
def test_the_zone_chosen_is_within_half_an_hour_of_the_wanted_local_time_at_any_hour(wanted):
    for now in EVERY_QUARTER_HOUR_OF_A_DAY:
        zone = zone_where_it_is(wanted, now=now)
        local = now.astimezone(zone)
        minutes_apart = (local.hour * 60 + local.minute - (wanted.hour * 60 + wanted.minute)) % 1440
        assert min(minutes_apart, 1440 - minutes_apart) <= 30, (now, zone.key, local)
        assert zone.key.startswith("Etc/GMT")  # a fixed offset: no clock change during the test


def test_a_test_clock_without_an_offset_or_not_iso_stops_the_run(monkeypatch):
    for value in ("2026-12-31T23:30:00", "tomorrow at noon"):
        monkeypatch.setenv("HIPCLINIC_TEST_CLOCK", value)
        with pytest.raises(pytest.UsageError, match="HIPCLINIC_TEST_CLOCK"):
            conftest.pinned_instant()
    monkeypatch.setenv("HIPCLINIC_TEST_CLOCK", "2026-12-31T23:30:00+00:00")
    assert conftest.pinned_instant() == datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
