"""The prescriptions part of the demo clinic (called by ``seed_demo``; idempotent): an
active program with two versions for the patient whose progress the demo charts."""

from django.db import transaction

from apps.accounts.models import User
from apps.prescriptions import services
from apps.prescriptions.models import Exercise, Program, ProgramItem


@transaction.atomic
def seed(*, password: str) -> None:
    therapist = User.objects.get(username="therapist")
    from apps.assessments.models import Assessment

    first_visit = (Assessment.objects.filter(patient__email__startswith="olive.ashworth@")
                   .order_by("assessed_on").first())
    if first_visit is None or Program.objects.filter(patient=first_visit.patient).exists():
        return
    program = Program.objects.create(patient=first_visit.patient, therapist=therapist, source_assessment=first_visit,
                                     start_date=first_visit.assessed_on, goals="Stairs at home without the rail.")
    for n, (slug, sets, low, high) in enumerate([("supine-heel-slide", 2, 10, 12), ("straight-leg-raise", 2, 8, 10),
                                                  ("standing-march", 2, 8, 12)], start=1):
        exercise = Exercise.objects.get(slug=slug)
        ProgramItem.objects.create(program=program, exercise=exercise, order=n, sets=sets, dose_low=low,
                                   dose_high=high, caution_acknowledged=bool(exercise.cautions))
    program = services.activate_program(program=program, by=therapist)
    # Two weeks in: more repetitions on the march (a second version).
    march = program.items.get(exercise__slug="standing-march")
    march.sets, march.dose_low, march.dose_high = 3, 10, 12
    march.save()
    services.record_version(program, by=therapist)
    services.create_patient_link(patient=program.patient, by=therapist)
