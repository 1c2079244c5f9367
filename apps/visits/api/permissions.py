"""Who may call the visits API's actions, beyond the role's model permissions on the viewset's model."""

from rest_framework.permissions import BasePermission

from hipclinic.api import RolePermissions


class Holds(BasePermission):
    """Signed in and holding every one of ``perms`` (for actions whose model is not the viewset's)."""

    def __init__(self, *perms: str):
        self.perms = perms

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms))


class NotePermissions(RolePermissions):
    """The role's model permissions; a draft is discarded with the change permission, since nobody holds
    delete: a signed note is kept for ever (the service and a database trigger refuse to delete it)."""

    perms_map = {**RolePermissions.perms_map, "DELETE": ["%(app_label)s.change_%(model_name)s"]}
