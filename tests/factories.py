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
