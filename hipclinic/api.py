"""The API's shared parts: role-aware permissions and pagination."""

from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import DjangoModelPermissions


class RolePermissions(DjangoModelPermissions):
    """Model permissions from the user's role, with reads needing the ``view`` permission.

    DRF's default lets any authenticated user read; health data needs the role to
    grant ``view_<model>`` as well.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
