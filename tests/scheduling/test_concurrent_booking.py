"""Twenty people grabbing the same slot at the same instant: exactly one gets it.

Twenty HTTP clients, each on its own thread and connection to a live server, are
released together by a barrier for every round; each round is a different slot, and
there are fifty rounds. The same race with the exclusion constraints dropped must
double-book at least once, which shows the test can see the race it guards against:
the booking service's own overlap check (a SELECT before the INSERT) cannot close it.
"""

import threading
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
import requests
from django.db import connection
from rest_framework.authtoken.models import Token

from apps.scheduling.models import Appointment
from tests.factories import PatientFactory, TherapistFactory, UserFactory

# The slots are written in UTC inside the therapist's 09:00-17:00 rota: the clinic's zone is pinned.
pytestmark = pytest.mark.usefixtures("clinic_in_utc")

REQUESTS = 20
ROUNDS = 50
constraints_migration = import_module("apps.scheduling.migrations.0002_no_overlap_constraints")


def round_starts(rounds: int) -> list[datetime]:
    """One slot per round, on weekdays between 10:00 and 14:00 UTC (inside the rota)."""
    starts, day = [], datetime(2030, 1, 7, tzinfo=UTC)  # a Monday
    while len(starts) < rounds:
        if day.weekday() < 5:
            starts += [day.replace(hour=hour) for hour in range(10, 15)]
        day += timedelta(days=1)
    return starts[:rounds]


def race(live_server, *, rounds: int) -> tuple[Appointment, list[Counter]]:
    """Run `rounds` rounds of REQUESTS simultaneous bookings; return the statuses per round."""
    therapist = TherapistFactory()
    desk = UserFactory(role="front_desk")
    token = Token.objects.create(user=desk).key
    patients = PatientFactory.create_batch(REQUESTS)
    starts = round_starts(rounds)
    barrier = threading.Barrier(REQUESTS)
    statuses = [Counter() for _ in starts]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def client(patient):
        with requests.Session() as http:
            http.headers["Authorization"] = f"Token {token}"
            try:
                for number, start in enumerate(starts):
                    barrier.wait(timeout=60)
                    response = http.post(f"{live_server.url}/api/v1/appointments/", json={
                        "patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up",
                        "start": start.isoformat(),
                    }, timeout=60)
                    with lock:
                        statuses[number][response.status_code] += 1
            except BaseException as error:  # reported below, after the barrier is broken for the others
                failures.append(error)
                barrier.abort()

    threads = [threading.Thread(target=client, args=(patient,)) for patient in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not failures, failures[0]
    return therapist, statuses


@contextmanager
def exclusion_constraints_dropped():
    with connection.schema_editor() as editor:
        constraints_migration.drop_constraints(None, editor)
    try:
        yield
    finally:
        Appointment.objects.all().delete()  # double bookings would stop the constraints coming back
        with connection.schema_editor() as editor:
            constraints_migration.add_constraints(None, editor)


@pytest.mark.postgres
def test_twenty_simultaneous_bookings_of_one_slot_give_exactly_one_appointment_in_each_of_fifty_rounds(
    transactional_db, live_server, report_figure
):
    therapist, statuses = race(live_server, rounds=ROUNDS)

    assert all(round_ == Counter({201: 1, 400: REQUESTS - 1}) for round_ in statuses), statuses
    per_slot = Counter(Appointment.objects.filter(therapist=therapist).values_list("start", flat=True))
    assert len(per_slot) == ROUNDS and set(per_slot.values()) == {1}
    report_figure(f"race: {ROUNDS} rounds x {REQUESTS} simultaneous bookings -> "
                  f"{sum(r[201] for r in statuses)} booked, {sum(r[400] for r in statuses)} refused, 0 double bookings")


@pytest.mark.postgres
def test_without_the_exclusion_constraint_the_same_race_double_books(transactional_db, live_server, report_figure):
    with exclusion_constraints_dropped():
        therapist, statuses = race(live_server, rounds=ROUNDS)
        per_slot = Counter(Appointment.objects.filter(therapist=therapist).values_list("start", flat=True))

    double_booked = sum(1 for count in per_slot.values() if count > 1)
    assert double_booked > 0, "the race never double-booked: the test could not see the race it guards against"
    assert sum(r[201] for r in statuses) == sum(per_slot.values())  # every 201 is a saved appointment
    report_figure(f"race without the exclusion constraint: {double_booked} of {ROUNDS} slots double-booked "
                  f"(up to {max(per_slot.values())} appointments in one slot)")


@pytest.mark.postgres
def test_the_constraints_are_back_after_the_race_without_them(transactional_db):
    """Guards the test above: the constraints it drops are restored for every later test."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'scheduling_appointment'::regclass "
                       "AND contype = 'x' ORDER BY conname")
        assert [name for (name,) in cursor.fetchall()] == sorted(constraints_migration.CONSTRAINTS)


@pytest.mark.postgres
def test_concurrent_bookings_never_answer_500_even_when_postgres_picks_a_deadlock_victim(transactional_db):
    """Conflicting exclusion-constraint inserts can deadlock; the loser gets a 400, not a 500."""
    from django.db import OperationalError

    from apps.scheduling import services

    class Deadlock(Exception):
        sqlstate = services.DEADLOCK_DETECTED

    therapist = TherapistFactory()
    appointment = Appointment(patient=PatientFactory(), therapist=therapist, start=datetime(2030, 1, 8, 10, tzinfo=UTC),
                              end=datetime(2030, 1, 8, 10, 30, tzinfo=UTC))

    def deadlocked_save(*args, **kwargs):
        raise OperationalError("deadlock detected") from Deadlock()

    appointment.save = deadlocked_save
    with pytest.raises(services.ValidationError) as refused:
        services._save_guarded(appointment)
    assert "Another booking took this time" in refused.value.message_dict["start"][0]
