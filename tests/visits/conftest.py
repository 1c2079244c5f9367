"""Fixtures for plans of care and visit notes: a plan, visits that happened, an assistant."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import AppointmentFactory, TherapistFactory


@pytest.fixture
def rota(therapist):
    """The therapist's rota entry (appointments are booked with it)."""
    return TherapistFactory(user=therapist, display_name="Theo Therapist")


@pytest.fixture
def plan_of_care(patient, therapist):
    """``plan_of_care(goals=[...], started_on=...)``: an open plan for the patient, written through the service
    (started two weeks ago unless ``started_on`` is given)."""
    from apps.visits import services

    def make(**fields):
        from hipclinic.zones import clinic_today

        values = {"visits_per_week": 2, "duration_weeks": 6, "started_on": clinic_today() - timedelta(days=14),
                  "diagnoses": [("M62.81", "")],
                  "goals": [{"description": "Climb stairs without a rail", "measure": "lefs", "target": 60}],
                  **fields}
        return services.create_plan(patient=patient, therapist=therapist, created_by=therapist, **values)

    return make


@pytest.fixture
def visit(patient, rota):
    """``visit(days_ago=1, status="completed")``: an appointment of the patient with the therapist,
    an hour long (``minutes=``), so that a note's treatment minutes fit in it."""

    def make(*, days_ago: float = 1, status: str = "completed", at: datetime | None = None, minutes: int = 60):
        start = at or datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
        return AppointmentFactory(patient=patient, therapist=rota, start=start, end=start + timedelta(minutes=minutes),
                                  status=status)

    return make


def one_time_code(user) -> str:
    """The code the user's authenticator shows now ("" for a user without two-factor), never one already used."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import one_time_code as code_of

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return "" if device is None else code_of(device)
