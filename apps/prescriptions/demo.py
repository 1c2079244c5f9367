"""The prescriptions part of the demo clinic (called by ``seed_demo``; idempotent): an
active program with two versions for the patient whose progress the demo charts."""

from django.db import transaction

from apps.accounts.models import User
from apps.assessments.models import Assessment
from apps.prescriptions import services
from apps.prescriptions.models import Exercise, Program, ProgramItem

FIRST_ITEMS = [("supine-heel-slide", 2, 10, 12), ("straight-leg-raise", 2, 8, 10), ("standing-march", 2, 8, 12)]


@transaction.atomic
def seed(*, password: str) -> None:
    therapist = User.objects.get(username="therapist")
    first_visit = (Assessment.objects.filter(patient__email__startswith="olive.ashworth@")
                   .order_by("assessed_on").first())
    if first_visit is None or Program.objects.filter(patient=first_visit.patient).exists():
        return
    exercises = {exercise.slug: exercise for exercise in Exercise.objects.filter(slug__in=[s for s, *_ in FIRST_ITEMS])}
    items = [ProgramItem(exercise=exercises[slug], order=n, sets=sets, dose_low=low, dose_high=high,
                         caution_acknowledged=bool(exercises[slug].cautions))
             for n, (slug, sets, low, high) in enumerate(FIRST_ITEMS, start=1)]
    program = services.save_program(
        program=Program(patient=first_visit.patient, therapist=therapist, source_assessment=first_visit,
                        start_date=first_visit.assessed_on, goals="Stairs at home without the rail."),
        items=items, by=therapist)
    program = services.activate_program(program=program, by=therapist)
    # Two weeks in: more repetitions on the march (a second version).
    items = services.stored_items(program)
    march = next(item for item in items if item.exercise.slug == "standing-march")
    march.sets, march.dose_low, march.dose_high = 3, 10, 12
    services.save_program(program=program, items=items, by=therapist)
    services.open_patient_link(patient=program.patient, by=therapist)  # the demo's patient page link
