"""The slot finder's two paths give the same slots on the same rows (PostgreSQL).

On PostgreSQL ``selectors.free_slots`` has the database compute each working block's free
gaps with multiranges and fetches only those; everywhere else (SQLite, or
``in_database=False``) it loads the busy intervals and ``slots.free_gaps`` computes them.
Each test here builds one set of rows and asks both paths, over DST days, time off,
cancelled and no-show appointments (free), a manager's deliberate overlaps (busy),
appointments outside working hours, overlapping and touching blocks, every kind, and a
seeded random month.
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.scheduling import selectors
from apps.scheduling.models import Appointment, AppointmentKind, AppointmentStatus, TimeOff
from hipclinic.zones import local_to_utc
from tests.factories import AppointmentFactory, PatientFactory, TherapistFactory, UserFactory, appointment_kind

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def london(settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "Europe/London"


def london_zone() -> ZoneInfo:
    return ZoneInfo("Europe/London")


def both_paths(*, kind="follow_up", start_date, end_date, now, therapist=None):
    """The slots from each path; asserts they are equal (the same Slot values in the same order)."""
    kind = kind if isinstance(kind, AppointmentKind) else appointment_kind(kind)
    found = {
        in_database: selectors.free_slots(
            kind=kind, start_date=start_date, end_date=end_date, now=now, therapist=therapist,
            in_database=in_database,
        )
        for in_database in (True, False)
    }
    assert found[True] == found[False]
    return found[True]


def london_at(day: date, hour: int, minute: int = 0) -> datetime:
    return local_to_utc(day, time(hour, minute), london_zone())


def book(therapist, start: datetime, minutes: int, **fields):
    return AppointmentFactory(therapist=therapist, start=start, end=start + timedelta(minutes=minutes), **fields)


SPRING_FORWARD = date(2026, 3, 29)  # a Sunday: 01:00 GMT becomes 02:00 BST
FALL_BACK = date(2026, 10, 25)  # a Sunday: 02:00 BST becomes 01:00 GMT


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_dst_days_with_blocks_starting_or_ending_in_the_odd_hour(london, day):
    # Night blocks on the change day: one from a time the clocks skip or show twice, one through it.
    therapist = TherapistFactory(hours=[(6, time(0), time(3)), (6, time(1, 30), time(4)), (6, time(9), time(12))])
    book(therapist, local_to_utc(day, time(0, 15), london_zone()), 45)
    book(therapist, local_to_utc(day, time(2, 30), london_zone()), 30)  # across the jump on either day
    TimeOff.objects.create(therapist=therapist, start=local_to_utc(day, time(10), london_zone()),
                           end=local_to_utc(day, time(10, 40), london_zone()))
    midnight = local_to_utc(day, time(0), london_zone())

    found = both_paths(start_date=day, end_date=day, now=midnight)

    assert found and {slot.therapist_id for slot in found} == {therapist.pk}


def test_weeks_either_side_of_both_dst_changes(london):
    therapist = TherapistFactory(hours=[(day, time(8), time(18)) for day in range(7)])
    for day in (date(2026, 3, 27), SPRING_FORWARD, date(2026, 3, 30), date(2026, 10, 23), FALL_BACK):
        book(therapist, london_at(day, 8), 30)
        book(therapist, london_at(day, 12, 10), 60)

    spring = both_paths(start_date=date(2026, 3, 26), end_date=date(2026, 4, 1),
                        now=london_at(date(2026, 3, 26), 0))
    autumn = both_paths(start_date=date(2026, 10, 22), end_date=date(2026, 10, 28),
                        now=london_at(date(2026, 10, 22), 0))

    assert len({slot.start.astimezone(london_zone()).date() for slot in spring}) == 7
    assert len({slot.start.astimezone(london_zone()).date() for slot in autumn}) == 7


@pytest.mark.parametrize(
    ("status", "overlap_reason"),
    [
        (AppointmentStatus.BOOKED, ""),
        (AppointmentStatus.CHECKED_IN, ""),
        (AppointmentStatus.COMPLETED, ""),
        (AppointmentStatus.CANCELLED, ""),
        (AppointmentStatus.NO_SHOW, ""),
        (AppointmentStatus.BOOKED, "Manager squeezed them in"),
    ],
)
def test_every_status_and_a_deliberate_overlap(clinic_in_utc, status, overlap_reason):
    therapist = TherapistFactory()
    monday = date(2026, 3, 23)
    book(therapist, datetime(2026, 3, 23, 10, tzinfo=UTC), 30)
    # Back to back with the 10:00, or over it when a manager meant it (outside the exclusion constraint).
    start = datetime(2026, 3, 23, 10, 15 if overlap_reason else 30, tzinfo=UTC)
    book(therapist, start, 45, status=status, overlap_reason=overlap_reason)

    found = both_paths(start_date=monday, end_date=monday, now=datetime(2026, 3, 23, tzinfo=UTC))

    starts = {f"{slot.start:%H:%M}" for slot in found}
    assert ("10:30" in starts) is (status in {AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW})


def test_appointments_and_time_off_outside_or_across_working_hours(clinic_in_utc):
    therapist = TherapistFactory(hours=[(day, start, end) for day in range(3)
                                        for start, end in ((time(9), time(12, 45)), (time(13), time(17)))])
    book(therapist, datetime(2026, 3, 23, 7, tzinfo=UTC), 60)  # before opening
    book(therapist, datetime(2026, 3, 23, 8, 40, tzinfo=UTC), 45)  # across opening
    book(therapist, datetime(2026, 3, 23, 12, 30, tzinfo=UTC), 45)  # across lunch
    book(therapist, datetime(2026, 3, 23, 16, 50, tzinfo=UTC), 30)  # across closing
    book(therapist, datetime(2026, 3, 22, 11, tzinfo=UTC), 60)  # on a Sunday, no hours
    TimeOff.objects.create(therapist=therapist, start=datetime(2026, 3, 23, 14, 5, tzinfo=UTC),
                           end=datetime(2026, 3, 23, 14, 50, tzinfo=UTC))
    TimeOff.objects.create(therapist=therapist, start=datetime(2026, 3, 24, 0, tzinfo=UTC),
                           end=datetime(2026, 3, 25, 0, tzinfo=UTC))  # all of Tuesday

    found = both_paths(start_date=date(2026, 3, 22), end_date=date(2026, 3, 25), now=datetime(2026, 3, 22, tzinfo=UTC))

    assert {slot.start.date() for slot in found} == {date(2026, 3, 23), date(2026, 3, 25)}


@pytest.mark.parametrize(
    "hours",
    [
        [(0, time(9), time(13)), (0, time(12), time(17))],  # overlapping blocks: two grids, no duplicates
        [(0, time(9), time(12)), (0, time(12), time(17))],  # touching blocks: no slot across the seam
        [(0, time(9, 10), time(9, 35))],  # a block shorter than the longest kind
    ],
)
def test_overlapping_touching_and_short_blocks(clinic_in_utc, hours):
    therapist = TherapistFactory(hours=hours)
    book(therapist, datetime(2026, 3, 23, 11, 50, tzinfo=UTC), 30)

    both_paths(start_date=date(2026, 3, 23), end_date=date(2026, 3, 23), now=datetime(2026, 3, 23, tzinfo=UTC))


def test_every_kind(clinic_in_utc):
    therapist = TherapistFactory()
    book(therapist, datetime(2026, 3, 23, 9, 50, tzinfo=UTC), 30)
    book(therapist, datetime(2026, 3, 23, 11, 5, tzinfo=UTC), 60)

    for kind in AppointmentKind.objects.all():
        both_paths(kind=kind, start_date=date(2026, 3, 23), end_date=date(2026, 3, 24),
                   now=datetime(2026, 3, 23, tzinfo=UTC))


def test_instants_cutting_blocks_now_inside_a_gap_and_one_therapist(clinic_in_utc):
    ann, bob = TherapistFactory(display_name="Ann"), TherapistFactory(display_name="Bob")
    TherapistFactory(display_name="Cat", is_active=False)
    book(ann, datetime(2026, 3, 23, 10, tzinfo=UTC), 30)
    book(bob, datetime(2026, 3, 23, 10, tzinfo=UTC), 45)
    now = datetime(2026, 3, 23, 9, 7, 30, tzinfo=UTC)

    for therapist in (None, ann, bob):
        both_paths(start_date=datetime(2026, 3, 23, 9, 20, tzinfo=UTC),
                   end_date=datetime(2026, 3, 23, 16, 10, tzinfo=UTC), now=now, therapist=therapist)
    later = datetime(2026, 3, 24, tzinfo=UTC)
    assert both_paths(start_date=date(2026, 3, 23), end_date=date(2026, 3, 23), now=later) == []


def test_a_therapist_with_nothing_booked_and_one_with_no_hours(clinic_in_utc):
    TherapistFactory(hours=[])
    free = TherapistFactory()

    found = both_paths(start_date=date(2026, 3, 23), end_date=date(2026, 3, 23), now=datetime(2026, 3, 23, tzinfo=UTC))

    assert {slot.therapist_id for slot in found} == {free.pk}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_seeded_random_month_across_a_dst_change(london, seed):
    """Random rotas, bookings of every kind and status, deliberate overlaps and time off over the
    four weeks round the spring change; both paths for every kind and a random "now"."""
    rng = random.Random(seed)
    zone = london_zone()
    kinds = list(AppointmentKind.objects.all())
    booker = UserFactory(role="front_desk")
    first_day = date(2026, 3, 16)
    rows = []
    for number in range(4):
        hours = []
        for weekday in rng.sample(range(7), 5):
            opens = rng.choice([time(0), time(1, 30), time(7), time(8, 45), time(9)])
            hours.append((weekday, opens, rng.choice([time(12), time(13, 20), time(17), time(20)])))
            if rng.random() < 0.3:
                hours.append((weekday, time(11), time(15)))  # overlapping the first block
        therapist = TherapistFactory(display_name=f"T{number}", hours=hours)
        patient, overlapping_patient = PatientFactory(), PatientFactory()
        for offset in range(28):
            day = first_day + timedelta(days=offset)
            cursor = local_to_utc(day, time(rng.choice([6, 8, 9])), zone)
            while cursor < local_to_utc(day, time(21), zone):
                kind = rng.choice(kinds)
                cursor += timedelta(minutes=rng.choice([0, 0, 5, 15, 40]))
                rows.append(Appointment(
                    patient=patient, therapist=therapist, kind=kind, start=cursor, end=cursor + kind.duration,
                    booked_by=booker, status=rng.choice([AppointmentStatus.BOOKED] * 6 + list(AppointmentStatus)),
                ))
                cursor += kind.duration
            if rng.random() < 0.2:
                start = local_to_utc(day, time(rng.randrange(8, 16)), zone)
                rows.append(Appointment(
                    patient=overlapping_patient, therapist=therapist, kind=kinds[0], start=start,
                    end=start + timedelta(minutes=50), booked_by=booker, overlap_reason="Urgent",
                ))
            if rng.random() < 0.15:
                start = local_to_utc(day, time(rng.randrange(0, 20)), zone)
                TimeOff.objects.create(therapist=therapist, start=start,
                                       end=start + timedelta(minutes=rng.choice([30, 125, 600, 1440])))
    Appointment.objects.bulk_create(rows)
    now = local_to_utc(first_day + timedelta(days=rng.randrange(3)), time(rng.randrange(24), rng.randrange(60)), zone)

    total = 0
    for kind in kinds:
        total += len(both_paths(kind=kind, start_date=first_day, end_date=first_day + timedelta(days=27), now=now))
    assert total > 0
