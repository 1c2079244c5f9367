import factory

from apps.accounts import services as account_services
from apps.accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.test")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def role(user, create, role, **_kwargs):
        if create and role is not None:
            account_services.set_role(user=user, role=role)


# ---------------------------------------------------------------------------- patients


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "patients.Patient"

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = "female"
    email = factory.Sequence(lambda n: f"patient{n}@example.org")
    phone = factory.Sequence(lambda n: f"+4420794600{n % 100:02d}")
    time_zone = "Europe/London"
    email_consent = True


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "patients.Referral"

    patient = factory.SubFactory(PatientFactory)
    cause = "hip_osteoarthritis"
    referring_clinician = "Dr A. Example"


# ---------------------------------------------------------------------------- scheduling


class TherapistFactory(factory.django.DjangoModelFactory):
    """A therapist with a staff account and, unless hours=[] is given, Mon-Fri 09:00-17:00."""

    class Meta:
        model = "scheduling.Therapist"
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory, role="therapist")
    display_name = factory.LazyAttribute(lambda t: f"{t.user.first_name} {t.user.last_name}")

    @factory.post_generation
    def hours(therapist, create, hours, **_kwargs):
        from datetime import time

        from apps.scheduling.models import WorkingHours

        if not create:
            return
        blocks = hours if hours is not None else [(day, time(9), time(17)) for day in range(5)]
        WorkingHours.objects.bulk_create(
            WorkingHours(therapist=therapist, weekday=day, start_time=start, end_time=end) for day, start, end in blocks
        )


def appointment_kind(slug: str = "follow_up"):
    from apps.scheduling.models import AppointmentKind

    return AppointmentKind.objects.get(slug=slug)


class AppointmentFactory(factory.django.DjangoModelFactory):
    """An appointment row written directly (no service rules, no e-mails): for fixtures."""

    class Meta:
        model = "scheduling.Appointment"

    patient = factory.SubFactory(PatientFactory)
    therapist = factory.SubFactory(TherapistFactory)
    kind = factory.LazyFunction(appointment_kind)
    start = factory.Faker("future_datetime", end_date="+30d", tzinfo=__import__("datetime").UTC)
    end = factory.LazyAttribute(lambda a: a.start + a.kind.duration)
    booked_by = factory.SubFactory(UserFactory, role="front_desk")


# ---------------------------------------------------------------------------- clinical records
#
# These write through the services, as the admin and the API do, so what they make obeys the
# same rules (dose limits, safety, computed classification) and carries its history.


class ExerciseFactory(factory.django.DjangoModelFactory):
    """A clinic's own exercise at the bottom of the ladder (the shipped library is in every test database)."""

    class Meta:
        model = "prescriptions.Exercise"
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Clinic exercise {n}")
    slug = factory.Sequence(lambda n: f"clinic-exercise-{n}")
    ladder_rank = 1
    muscle_bias = "iliopsoas"
    instructions = factory.LazyFunction(lambda: ["Sit tall on a firm chair.", "Lift one knee slowly, then lower it."])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        from apps.prescriptions.services import save_exercise

        return save_exercise(exercise=model_class(*args, **kwargs), by=None)


def exercise(slug: str):
    from apps.prescriptions.models import Exercise

    return Exercise.objects.get(slug=slug)


class ProgramFactory(factory.django.DjangoModelFactory):
    """A program of ``exercises`` (library slugs, or (slug, sets) pairs) at their default doses, saved
    through ``save_program``; ``status="active"`` activates it through ``activate_program``."""

    class Meta:
        model = "prescriptions.Program"

    patient = factory.LazyAttribute(lambda _: ReferralFactory(cause="prolonged_sitting").patient)
    therapist = factory.SubFactory(UserFactory, role="therapist")
    start_date = factory.LazyAttribute(lambda program: program.patient.today())  # the patient's own date
    exercises = ("seated-knee-raise",)
    status = "draft"

    class Params:
        active = factory.Trait(status="active")

    @classmethod
    def _create(cls, model_class, *args, exercises=(), status="draft", **kwargs):
        from apps.prescriptions import services
        from apps.prescriptions.models import ProgramItem

        items = []
        for row in exercises:
            slug, sets = (row, None) if isinstance(row, str) else row
            chosen = exercise(slug)
            items.append(ProgramItem(exercise=chosen, sets=sets or chosen.default_sets,
                                     dose_low=chosen.default_dose_low, dose_high=chosen.default_dose_high,
                                     caution_acknowledged=True))
        program = services.save_program(program=model_class(*args, **kwargs), items=items, by=kwargs["therapist"])
        if status == "active":
            program = services.activate_program(program=program, by=kwargs["therapist"])
        return program


class AssessmentFactory(factory.django.DjangoModelFactory):
    """An assessment with both sides' findings (``sides``: a list of dicts), recorded through the service."""

    class Meta:
        model = "assessments.Assessment"

    patient = factory.LazyAttribute(lambda _: ReferralFactory(cause="hip_osteoarthritis").patient)
    therapist = factory.SubFactory(UserFactory, role="therapist")
    pain_now = 4
    pain_worst_week = 6
    sides = factory.LazyFunction(lambda: [
        {"side": "left", "mmt_grade": "4", "pain_on_resisted_flexion": True, "knee_hold_seconds": 8},
        {"side": "right", "mmt_grade": "5", "pain_on_resisted_flexion": True, "knee_hold_seconds": 15},
    ])

    @classmethod
    def _create(cls, model_class, *args, sides=(), **kwargs):
        from apps.assessments.services import record_assessment

        return record_assessment(assessment=model_class(*args, **kwargs), sides=list(sides),
                                 recorded_by=kwargs["therapist"])


class SessionLogFactory(factory.django.DjangoModelFactory):
    """A session of an active program, every exercise done as prescribed, logged through the service."""

    class Meta:
        model = "followups.SessionLog"

    program = factory.SubFactory(ProgramFactory, active=True)
    session_date = factory.LazyAttribute(lambda log: log.program.patient.today())
    submission_key = factory.Sequence(lambda n: f"factory-session-{n}")
    pain_during = None

    @classmethod
    def _create(cls, model_class, *args, program=None, pain_during=None, **kwargs):
        from apps.followups.services import log_session

        items = [{"item": item.pk, "sets_done": item.sets, "last_set_amount": item.dose_high,
                  "pain_during": pain_during}
                 for item in program.items.all()]
        return log_session(program=program, items=items, **kwargs)
