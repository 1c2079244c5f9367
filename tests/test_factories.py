"""The test factories make records the way the product does: through its services, obeying its rules."""

import pytest
from django.core.exceptions import ValidationError

from apps.followups.models import FollowUp
from tests.factories import AssessmentFactory, ExerciseFactory, ProgramFactory, SessionLogFactory

pytestmark = pytest.mark.django_db


def test_an_active_program_from_the_factory_is_activated_by_the_service():
    program = ProgramFactory(active=True, exercises=["seated-knee-raise", ("standing-march", 3)])

    assert program.status == "active" and program.activated_at is not None
    assert [(item.exercise.slug, item.sets) for item in program.items.all()] == [
        ("seated-knee-raise", 2), ("standing-march", 3)]
    assert program.versions.count() == 1 and FollowUp.objects.filter(program=program).count() == 3


def test_the_program_factory_refuses_what_the_service_refuses():
    with pytest.raises(ValidationError, match="sets must be"):
        ProgramFactory(exercises=[("seated-knee-raise", 9)])


def test_an_assessment_from_the_factory_has_its_classification():
    assessment = AssessmentFactory()

    assert assessment.classification == "weak" and assessment.suggested_rung is not None
    assert assessment.sides.count() == 2


def test_a_session_from_the_factory_logs_every_exercise_of_the_program():
    log = SessionLogFactory(pain_during=2)

    assert [(row.exercise.slug, row.pain_during) for row in log.items.all()] == [("seated-knee-raise", 2)]


def test_a_clinic_exercise_from_the_factory_is_in_the_library_with_its_history():
    made = ExerciseFactory(name="Seated knee lift with a towel")

    assert made.history.count() == 1 and made.is_active
