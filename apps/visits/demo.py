"""The visits part of the demo clinic (called by ``seed_demo`` before today's list; idempotent): a
certified plan of care for the patient with the active program, so today's visit can be written up."""

from __future__ import annotations

from django.db import transaction

from apps.accounts.models import User
from apps.prescriptions.models import Program, ProgramStatus
from apps.visits import services
from apps.visits.models import PlanOfCare


@transaction.atomic
def seed(*, password: str) -> None:
    therapist = User.objects.get(username="therapist")
    program = Program.objects.filter(patient__email__startswith="olive.ashworth@", status=ProgramStatus.ACTIVE) \
        .select_related("patient").first()
    if program is None or PlanOfCare.objects.filter(patient=program.patient).exists():
        return
    plan = services.create_plan(
        patient=program.patient, therapist=therapist, created_by=therapist, visits_per_week=1, duration_weeks=8,
        started_on=program.start_date, program=program, treatment="Therapeutic exercise and home program",
        diagnoses=[("M16.12", ""), ("M62.81", "")],
        goals=[{"description": "Climb the stairs at home without the rail", "measure": "lefs", "target": 60},
               {"description": "Pain at worst 3/10 or less", "measure": "nprs", "target": 3}])
    services.record_certification(plan=plan, signed_on=program.start_date, clinician="Dr Demo, Riverside Practice",
                                  recorded_by=therapist)
