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
