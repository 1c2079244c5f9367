"""The slot finder over the database (apps/scheduling/selectors.py): rota, bookings, time off, now."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from apps.scheduling import selectors
from apps.scheduling.models import Appointment, AppointmentStatus, TimeOff
from tests.factories import AppointmentFactory, PatientFactory, TherapistFactory, UserFactory, appointment_kind

pytestmark = pytest.mark.django_db

MONDAY = date(2026, 3, 23)  # GMT in London; "now" is 08:00 UTC that morning unless a test moves it


@pytest.fixture(autouse=True)
def _now(clinic_in_utc):
    # Rotas and slots are written in UTC: the clinic's zone is pinned with the clock.
    with time_machine.travel("2026-03-23 08:00 +0000", tick=False):
        yield


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hhmm(slots) -> list[str]:
    return [f"{slot.start:%H:%M}" for slot in slots]


def monday_slots(therapist=None, kind="follow_up"):
    return selectors.free_slots(kind=appointment_kind(kind), start_date=MONDAY, end_date=MONDAY, therapist=therapist)


ALL_DAY_30 = [f"{h:02d}:{m:02d}" for h in range(9, 17) for m in (0, 15, 30, 45)][:-1]  # 09:00 ... 16:30


def test_an_empty_day_offers_every_grid_start_that_fits_before_closing():
    therapist = TherapistFactory(display_name="Ann")

    found = monday_slots(therapist)

    assert hhmm(found) == ALL_DAY_30
    assert found[0] == selectors.Slot(therapist.pk, "Ann", "follow_up", at("2026-03-23 09:00"), at("2026-03-23 09:30"))
    assert all(slot.start.tzinfo is not None and slot.start.utcoffset() == timedelta(0) for slot in found)


@pytest.mark.parametrize(
    ("status", "overlap_reason", "offered"),
    [
        (AppointmentStatus.BOOKED, "", False),
        (AppointmentStatus.CHECKED_IN, "", False),
        (AppointmentStatus.COMPLETED, "", False),
        (AppointmentStatus.BOOKED, "Patient in pain, manager squeezed them in", False),
        (AppointmentStatus.CANCELLED, "", True),
        (AppointmentStatus.NO_SHOW, "", True),
    ],
)
def test_active_appointments_hold_their_time_and_cancelled_or_no_show_ones_free_it(status, overlap_reason, offered):
    therapist = TherapistFactory()
    AppointmentFactory(
        therapist=therapist, start=at("2026-03-23 10:00"), end=at("2026-03-23 10:30"),
        status=status, overlap_reason=overlap_reason,
    )

    found = hhmm(monday_slots(therapist))

    assert ("10:00" in found) is offered
    assert ("09:45" in found) is offered and ("10:15" in found) is offered
    assert "09:30" in found and "10:30" in found  # back to back on either side is fine


def test_another_therapists_booking_leaves_this_therapist_free():
    ann, bob = TherapistFactory(display_name="Ann"), TherapistFactory(display_name="Bob")
    AppointmentFactory(therapist=bob, start=at("2026-03-23 10:00"), end=at("2026-03-23 10:30"))

    assert "10:00" in hhmm(monday_slots(ann))
    assert "10:00" not in hhmm(monday_slots(bob))


def test_a_long_kind_needs_a_long_enough_gap():
    therapist = TherapistFactory(hours=[(0, time(9), time(11))])
    AppointmentFactory(therapist=therapist, start=at("2026-03-23 09:45"), end=at("2026-03-23 10:15"))

    assert hhmm(monday_slots(therapist, kind="initial_assessment")) == []  # 60 minutes: no gap that long
    assert hhmm(monday_slots(therapist, kind="follow_up")) == ["09:00", "09:15", "10:15", "10:30"]


@pytest.mark.parametrize(
    ("off_from", "off_to", "expected"),
    [
        ("2026-03-23 00:00", "2026-03-24 00:00", []),  # the whole day
        ("2026-03-20 12:00", "2026-03-25 12:00", []),  # a week round it
        ("2026-03-23 09:00", "2026-03-23 16:00", ["16:00", "16:15", "16:30"]),
        ("2026-03-23 16:10", "2026-03-23 18:00", ALL_DAY_30[: ALL_DAY_30.index("15:30") + 1]),
    ],
)
def test_time_off_removes_its_time(off_from, off_to, expected):
    therapist = TherapistFactory()
    TimeOff.objects.create(therapist=therapist, start=at(off_from), end=at(off_to), reason="leave")

    assert hhmm(monday_slots(therapist)) == expected


def test_slots_before_now_are_not_offered():
    therapist = TherapistFactory()

    with time_machine.travel("2026-03-23 12:05 +0000", tick=False):
        found = hhmm(monday_slots(therapist))

    assert found[0] == "12:15"


def test_any_therapist_means_every_active_one_sorted_by_start_then_name():
    bob = TherapistFactory(display_name="Bob", hours=[(0, time(9), time(10))])
    ann = TherapistFactory(display_name="Ann", hours=[(0, time(9, 30), time(10))])
    TherapistFactory(display_name="Cat", is_active=False, hours=[(0, time(9), time(10))])

    found = monday_slots()

    assert [(f"{s.start:%H:%M}", s.therapist_name) for s in found] == [
        ("09:00", "Bob"), ("09:15", "Bob"), ("09:30", "Ann"), ("09:30", "Bob"),
    ]
    assert {s.therapist_id for s in found} == {ann.pk, bob.pk}


def test_an_inactive_therapist_has_no_slots_even_when_named():
    therapist = TherapistFactory(is_active=False)

    assert monday_slots(therapist) == []


def test_a_date_range_includes_both_end_days_and_skips_days_off():
    therapist = TherapistFactory()  # Mon-Fri

    found = selectors.free_slots(
        kind=appointment_kind("initial_assessment"), therapist=therapist,
        start_date=date(2026, 3, 27), end_date=date(2026, 3, 30),
    )

    assert sorted({f"{slot.start:%a}" for slot in found}) == ["Fri", "Mon"]
    assert found[-1].end == at("2026-03-30 17:00")


def test_datetimes_bound_the_search_to_the_instant():
    therapist = TherapistFactory()

    found = selectors.free_slots(
        kind=appointment_kind("follow_up"), therapist=therapist,
        start_date=at("2026-03-23 10:07"), end_date=at("2026-03-23 11:30"),
    )

    assert hhmm(found) == ["10:15", "10:30", "10:45", "11:00"]  # grid from 09:00, ending by 11:30


def test_an_end_before_the_start_finds_nothing():
    TherapistFactory()

    assert selectors.free_slots(
        kind=appointment_kind("follow_up"), start_date=date(2026, 3, 24), end_date=date(2026, 3, 23)
    ) == []


def test_the_grid_follows_the_clinics_slot_step(clinic_policy):
    clinic_policy(slot_step_minutes=30)
    therapist = TherapistFactory(hours=[(0, time(9), time(11))])

    assert hhmm(monday_slots(therapist)) == ["09:00", "09:30", "10:00", "10:30"]


# ---------------------------------------------------------------------------- the clinic's time zone


@pytest.fixture
def london(settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "Europe/London"


@pytest.mark.parametrize(
    ("day", "first_utc", "last_utc_end"),
    [
        (date(2026, 3, 27), "2026-03-27 09:00", "2026-03-27 17:00"),  # GMT
        (date(2026, 3, 30), "2026-03-30 08:00", "2026-03-30 16:00"),  # BST from Sunday 29th
        (date(2026, 10, 23), "2026-10-23 08:00", "2026-10-23 16:00"),  # still BST
        (date(2026, 10, 26), "2026-10-26 09:00", "2026-10-26 17:00"),  # GMT from Sunday 25th
    ],
)
def test_working_hours_are_clinic_wall_clock_times_either_side_of_dst(london, day, first_utc, last_utc_end):
    therapist = TherapistFactory()

    found = selectors.free_slots(kind=appointment_kind("follow_up"), therapist=therapist, start_date=day, end_date=day)

    assert (found[0].start, found[-1].end, len(found)) == (at(first_utc), at(last_utc_end), 31)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 2), (date(2026, 10, 25), 4)],  # Sunday 00:00-03:00 on each change day
)
def test_a_night_block_on_a_dst_sunday_offers_the_hours_really_worked(london, day, hours):
    therapist = TherapistFactory(hours=[(6, time(0), time(3))])

    found = selectors.free_slots(kind=appointment_kind("follow_up"), therapist=therapist, start_date=day, end_date=day)

    assert found[-1].end - found[0].start == timedelta(hours=hours)
    assert len(found) == hours * 4 - 1


def test_a_date_is_the_clinic_day_not_the_utc_day(london):
    # Sunday 23:30 BST is Sunday 22:30 UTC; Monday 00:30 BST is Sunday 23:30 UTC.
    therapist = TherapistFactory(hours=[(6, time(23), time(23, 59)), (0, time(0), time(1))])

    found = selectors.free_slots(
        kind=appointment_kind("follow_up"), therapist=therapist,
        start_date=date(2026, 6, 15), end_date=date(2026, 6, 15),
    )

    assert [f"{s.start:%Y-%m-%d %H:%M}" for s in found] == ["2026-06-14 23:00", "2026-06-14 23:15", "2026-06-14 23:30"]


# ---------------------------------------------------------------------------- rota checks for the booking service


@pytest.mark.parametrize(
    ("start", "end", "covered"),
    [
        ("2026-03-23 09:00", "2026-03-23 09:30", True),
        ("2026-03-23 16:30", "2026-03-23 17:00", True),
        ("2026-03-23 12:30", "2026-03-23 13:30", False),  # across lunch
        ("2026-03-23 16:45", "2026-03-23 17:15", False),  # past closing
        ("2026-03-23 08:45", "2026-03-23 09:15", False),  # before opening
        ("2026-03-22 10:00", "2026-03-22 10:30", False),  # Sunday
        ("2026-03-23 10:00", "2026-03-23 10:00", False),  # empty
    ],
)
def test_working_hours_cover_needs_one_block_round_the_whole_interval(start, end, covered):
    therapist = TherapistFactory(hours=[(0, time(9), time(12, 45)), (0, time(13), time(17))])

    assert selectors.working_hours_cover(therapist=therapist, start=at(start), end=at(end)) is covered


def test_working_hours_cover_reads_hours_in_the_clinic_zone(london):
    therapist = TherapistFactory()  # 09:00-17:00 London: 08:00-16:00 UTC in June

    assert selectors.working_hours_cover(therapist=therapist, start=at("2026-06-15 08:00"), end=at("2026-06-15 09:00"))
    assert not selectors.working_hours_cover(
        therapist=therapist, start=at("2026-06-15 15:30"), end=at("2026-06-15 16:30")
    )


@pytest.mark.parametrize(
    ("start", "end", "clash"),
    [
        ("2026-03-23 11:30", "2026-03-23 12:00", False),  # ends as the time off begins
        ("2026-03-23 14:00", "2026-03-23 14:30", False),  # starts as it ends
        ("2026-03-23 11:45", "2026-03-23 12:15", True),
        ("2026-03-23 13:00", "2026-03-23 13:30", True),
        ("2026-03-23 11:00", "2026-03-23 15:00", True),  # round it
    ],
)
def test_time_off_clash_is_a_half_open_overlap(start, end, clash):
    therapist = TherapistFactory()
    TimeOff.objects.create(therapist=therapist, start=at("2026-03-23 12:00"), end=at("2026-03-23 14:00"))
    TimeOff.objects.create(therapist=TherapistFactory(), start=at("2026-03-23 00:00"), end=at("2026-03-24 00:00"))

    assert selectors.time_off_clash(therapist=therapist, start=at(start), end=at(end)) is clash


def test_rota_checks_run_one_query_each(django_assert_num_queries):
    therapist = TherapistFactory()
    start, end = at("2026-03-23 09:00"), at("2026-03-23 09:30")

    with django_assert_num_queries(1):
        selectors.working_hours_cover(therapist=therapist, start=start, end=end)
    with django_assert_num_queries(1):
        selectors.time_off_clash(therapist=therapist, start=start, end=end)


# ---------------------------------------------------------------------------- query budget


def make_rota(therapists: int, appointments: int) -> None:
    """``therapists`` on Mon-Fri 09:00-17:00, ``appointments`` spread over them, one time off each."""
    crew = TherapistFactory.create_batch(therapists)
    booker = UserFactory(role="front_desk")
    patients = [PatientFactory() for _ in crew]  # one patient per therapist: no patient double-booked
    kind = appointment_kind("follow_up")
    first = at("2026-03-23 09:00")
    rows = []
    for i in range(appointments):
        index, nth = i % therapists, i // therapists
        start = first + timedelta(days=nth // 16, minutes=30 * (nth % 16))
        rows.append(Appointment(
            patient=patients[index], therapist=crew[index], kind=kind, start=start, end=start + kind.duration,
            booked_by=booker,
        ))
    Appointment.objects.bulk_create(rows)
    TimeOff.objects.bulk_create(
        TimeOff(therapist=t, start=at("2026-03-24 12:00"), end=at("2026-03-24 14:00")) for t in crew
    )


@pytest.mark.parametrize("in_database", [False, pytest.param(True, marks=pytest.mark.postgres)])
@pytest.mark.parametrize(("therapists", "appointments"), [(2, 10), (50, 1000)])
def test_free_slots_runs_a_fixed_number_of_queries_whatever_the_numbers(
    django_assert_num_queries, therapists, appointments, in_database
):
    make_rota(therapists, appointments)
    kind = appointment_kind("follow_up")

    # 1. working hours with their therapists, 2. the clinic's policy (its slot grid; read once per
    # request or task), then in Python 3. active appointments in range and 4. time off in range, or
    # in PostgreSQL 3. the free gaps of every working block
    with django_assert_num_queries(3 if in_database else 4):
        found = selectors.free_slots(
            kind=kind, start_date=MONDAY, end_date=MONDAY + timedelta(days=13), in_database=in_database
        )

    assert {slot.therapist_id for slot in found} == set(
        selectors.therapists().filter(is_active=True).values_list("pk", flat=True)
    )
