from django.contrib.auth.models import AbstractUser
from django.db import models
from simple_history.models import HistoricalRecords

from apps.accounts.roles import ROLE_BY_GROUP_NAME, Role


class User(AbstractUser):
    """A member of the clinic's staff. Patients have no accounts."""

    email = models.EmailField("email address", blank=True)

    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role(self) -> Role | None:
        """The user's role, from their group; None for a user without one."""
        if not hasattr(self, "_role"):
            names = [group.name for group in self.groups.all()]
            roles = [ROLE_BY_GROUP_NAME[name] for name in names if name in ROLE_BY_GROUP_NAME]
            self._role = roles[0] if roles else None
        return self._role

    def has_role(self, *roles: Role) -> bool:
        return self.is_active and (self.is_superuser or self.role in roles)

    @property
    def is_clinic_staff(self) -> bool:
        """Any active user with a role (or a superuser) may sign in to hipclinic's pages."""
        return self.is_active and (self.is_superuser or self.role is not None)
