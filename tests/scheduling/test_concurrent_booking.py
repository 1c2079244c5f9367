"""Twenty people grabbing the same slot at the same instant: exactly one gets it."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.scheduling.models import Appointment
from tests.factories import PatientFactory, TherapistFactory, UserFactory

REQUESTS = 20


@pytest.mark.postgres
def test_twenty_concurrent_requests_for_one_slot_create_exactly_one_appointment(transactional_db):
    therapist = TherapistFactory()
    desk = UserFactory(role="front_desk")
    patients = PatientFactory.create_batch(REQUESTS)
    start = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)  # a Tuesday inside working hours
    barrier = threading.Barrier(REQUESTS)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(patient):
        client = APIClient()
        client.force_authenticate(desk)
        try:
            barrier.wait(timeout=30)
            response = client.post("/api/v1/appointments/", {
                "patient": patient.pk, "therapist": therapist.pk, "kind": "follow_up", "start": start.isoformat(),
            }, format="json")
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(patient,)) for patient in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(statuses) == [201] + [400] * (REQUESTS - 1)
    assert Appointment.objects.filter(therapist=therapist, start=start).count() == 1


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
