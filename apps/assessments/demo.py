"""The clinical part of the demo clinic (called by ``seed_demo``; idempotent): assessments
six weeks apart with outcome measures, so the progress chart has something to show."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.assessments import services
from apps.assessments.models import Assessment, OutcomeMeasure
from apps.patients.models import Patient

# patient e-mail prefix -> [(weeks ago, pain now, worst, left, right, LEFS items, ODI sections)]
VISITS = {
    "olive.ashworth": [
        (6, 6, 8, dict(mmt_grade="3", pain_on_resisted_flexion=True, knee_hold_seconds=4, dynamometry_trial_1=138,
                       dynamometry_trial_2=142, thomas_iliopsoas=True),
         dict(mmt_grade="4+", pain_on_resisted_flexion=True, knee_hold_seconds=12, dynamometry_trial_1=188),
         [2] * 18 + [1, 1], None),
        (0, 3, 4, dict(mmt_grade="4", pain_on_resisted_flexion=True, knee_hold_seconds=11, dynamometry_trial_1=171,
                       dynamometry_trial_2=176, thomas_iliopsoas=False),
         dict(mmt_grade="5", pain_on_resisted_flexion=True, knee_hold_seconds=20, dynamometry_trial_1=196),
         [3] * 16 + [2] * 4, None),
    ],
    "mina.evans": [
        (1, 2, 5, dict(mmt_grade="4", pain_on_resisted_flexion=False, knee_hold_seconds=8),
         dict(mmt_grade="4", pain_on_resisted_flexion=True, knee_hold_seconds=9), None,
         [1, 2, 1, 1, 2, 1, 0, 1, None, 1]),
    ],
}


@transaction.atomic
def seed(*, password: str) -> None:
    therapist = User.objects.get(username="therapist")
    today = timezone.localdate()
    for prefix, visits in VISITS.items():
        patient = Patient.objects.filter(email__startswith=prefix + "@").first()
        if patient is None or Assessment.objects.filter(patient=patient).exists():
            continue
        for weeks_ago, pain_now, worst, left, right, lefs, odi in visits:
            day = today - timedelta(weeks=weeks_ago)
            outcomes = [OutcomeMeasure(measure=measure, items=items, recorded_on=day)
                        for measure, items in (("nprs", [pain_now]), ("lefs", lefs), ("odi", odi)) if items]
            services.record_assessment(
                assessment=Assessment(patient=patient, therapist=therapist, assessed_on=day, pain_now=pain_now,
                                      pain_worst_week=worst, complaints=["stairs"]),
                sides=[{"side": "left", **left}, {"side": "right", **right}], recorded_by=therapist,
                outcomes=outcomes)
