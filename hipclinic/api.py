"""The API's shared parts: role-aware permissions, pagination, service errors as 400s."""

import re
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django_filters import filters, utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, DjangoModelPermissions

from hipclinic.errors import messages_by_field


class IsClinicStaff(BasePermission):
    """Signed in, active, and holding a role (or a superuser)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_clinic_staff)


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
    """50 per page; ``?page_size=`` from 1, capped at 200.

    A ``page_size`` that is not a whole number from 1 is refused with a 400, where DRF would
    quietly answer the default page (the API's documented rule: bad input gets a 400); an
    empty ``page`` is an invalid page (404) like any other, where DRF answered the first.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"Enter a whole number from 1 (at most {self.max_page_size})."]}
            )
        return min(int(text), self.max_page_size)

    def get_page_number(self, request, paginator):
        # An empty ?page= is as unreadable as ?page=abc: "Invalid page" (404), not quietly page 1.
        page_number = request.query_params.get(self.page_query_param, 1)
        return paginator.num_pages if page_number in self.last_page_strings else page_number

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = f"Results per page, from 1 (default {self.page_size}; more than " \
                                           f"{self.max_page_size} gives {self.max_page_size})."
        return parameters


class FilterBackend(DjangoFilterBackend):
    """django-filter, refusing with a 400 the filter values it would quietly drop.

    django-filter ignores a filter given with no value, a yes/no filter that is not true or
    false and reads a whole-number filter as a decimal, and answers as if the filter had not
    been asked: ``?email_consent=ture`` listed every patient, consenting or not.
    """

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        problems = {}
        for name, filter_ in filterset.filters.items():
            for value in request.query_params.getlist(name):
                problem = _filter_value_problem(filterset, filter_, value)
                if problem:
                    problems[name] = [problem]
        if problems:
            raise serializers.ValidationError(problems)
        if not filterset.is_valid():
            raise utils.translate_validation(filterset.errors)
        for name, value in filterset.form.cleaned_data.items():
            if isinstance(value, datetime) and value.tzinfo is not None:
                # The same instant in UTC: PostgreSQL refuses offsets beyond 15:59, which Python allows.
                try:
                    filterset.form.cleaned_data[name] = value.astimezone(UTC)
                except OverflowError:
                    raise serializers.ValidationError(
                        {name: ["Enter a date-time between the years 1 and 9999."]}
                    ) from None
        return filterset.qs


def _filter_value_problem(filterset, filter_, value: str) -> str | None:
    if value == "":
        return "Give a value, or leave this filter out."
    if isinstance(filter_, filters.BooleanFilter) and value not in ("true", "false"):
        return "Enter true or false."
    if isinstance(filter_, filters.NumberFilter) and not re.fullmatch(r"-?[0-9]+", value):
        model_field = filterset._meta.model._meta.get_field(filter_.field_name)
        if isinstance(model_field, models.IntegerField):
            return "Enter a whole number."
    return None


def query_flag(request, name: str) -> bool:
    """A yes/no query parameter: absent is false; anything but true or false is a 400."""
    value = request.query_params.get(name)
    if value not in (None, "true", "false"):
        raise serializers.ValidationError({name: ["Enter true or false."]})
    return value == "true"


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing a NUL character before it reaches the database
    (PostgreSQL rejects such a string with an error, which would otherwise be a 500)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


def call_service(service, **arguments):
    """Call a service for the API: its refusal (``ValidationError``) becomes a 400 with the same field names."""
    try:
        return service(**arguments)
    except DjangoValidationError as error:
        raise as_api_error(error) from None


def as_api_error(error: DjangoValidationError) -> serializers.ValidationError:
    """A service's refusal (field -> messages) as DRF's 400 with the same field names."""
    return serializers.ValidationError(
        {name or "non_field_errors": messages for name, messages in messages_by_field(error).items()}
    )
