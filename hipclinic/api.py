"""The API's shared parts: role-aware permissions, pagination, service errors as 400s."""

import base64
import json
import re
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import InvalidPage
from django.db import connections, models
from django.db.models import F, OrderBy, QuerySet
from django.utils.functional import cached_property
from django_filters import filters, utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from hipclinic.admin_lists import LargeTablePaginator
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


class LargeListPaginator(LargeTablePaginator):
    """The admin's paginator for the API: an estimated count when the view says the list is
    unfiltered (``estimate``), a deferred join for deep pages. The API's lists filter rows
    (e.g. patients not archived), so the estimate is the planner's for the list's own query."""

    def __init__(self, *args, estimate: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.may_estimate = estimate

    @cached_property
    def _estimate(self) -> int | None:
        queryset = self.object_list
        if not self.may_estimate or not isinstance(queryset, QuerySet):
            return None
        if connections[queryset.db].vendor != "postgresql":
            return None
        plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
        return int(plan[0]["Plan"]["Plan Rows"])

    def page(self, number):
        """As the admin's, with the deep page's ids read in the same query (``id IN (SELECT ... OFFSET)``):
        one round trip fewer. The ids come from the list's ordering index alone (an index-only scan)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count and not self.count_is_estimate:
            top = self.count
        rows = self.object_list[bottom:top]
        if bottom >= self.deferred_join_from and isinstance(self.object_list, QuerySet):
            rows = self.object_list.filter(pk__in=self.object_list.values("pk")[bottom:top])
        return self._get_page(rows, number, self)


class ListPagination(Pagination):
    """``Pagination`` with, for large lists: an estimated ``count`` when the list is unfiltered,
    deep pages read ids first, and ``?cursor=`` keyset paging in the list's own order.

    A view lists in ``estimate_params`` the query parameters that leave the list "unfiltered"
    (besides page, page_size and cursor); any other parameter (a search, a filter, an
    ordering) gets an exact count. ``count_is_estimate`` says which one the answer carries.

    Cursor mode (``?cursor=`` empty for the first page, then each answer's ``next``) walks the
    list by the values of its ordering columns, ``WHERE (key) > (last row's key)``: each page
    costs the same however deep, and rows added or archived during the walk never make it
    skip or repeat another row. It carries no count and no ``previous``.
    """

    cursor_query_param = "cursor"
    estimate_params: frozenset = frozenset()

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.cursor_mode = self.cursor_query_param in request.query_params
        if self.cursor_mode:
            return self._cursor_page(queryset, request)
        page_size = self.get_page_size(request)
        known = {self.page_query_param, self.page_size_query_param, "format"}
        unfiltered = set(request.query_params) <= known | set(getattr(view, "estimate_params", ()))
        paginator = LargeListPaginator(queryset, page_size, estimate=unfiltered)
        page_number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(page_number)
        except InvalidPage as exc:
            raise NotFound(self.invalid_page_message.format(page_number=page_number, message=str(exc))) from None
        return list(self.page)

    def get_next_link(self):
        if self.page.paginator.count_is_estimate:
            # The estimate may be short or long: a next page exists when this one is full.
            if len(self.page.object_list) < self.page.paginator.per_page:
                return None
            url = self.request.build_absolute_uri()
            return replace_query_param(url, self.page_query_param, self.page.number + 1)
        return super().get_next_link()

    def get_paginated_response(self, data):
        if self.cursor_mode:
            return Response({"next": self.next_cursor_link, "results": data})
        return Response({
            "count": self.page.paginator.count,
            "count_is_estimate": self.page.paginator.count_is_estimate,
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        })

    # ------------------------------------------------------------------ cursor mode

    def _cursor_page(self, queryset, request):
        if "ordering" in request.query_params or self.page_query_param in request.query_params:
            raise serializers.ValidationError(
                {self.cursor_query_param: ["Cursor paging follows the list's own order: leave out page and ordering."]}
            )
        page_size = self.get_page_size(request)
        keys, queryset = _cursor_keys(queryset)
        text = request.query_params[self.cursor_query_param]
        if text:
            values = _decode_cursor(text, keys)
            queryset = queryset.filter(_after(keys, values))
        rows = list(queryset[:page_size + 1])
        self.next_cursor_link = None
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            cursor = _encode_cursor([getattr(last, name) for name, _kind in keys])
            self.next_cursor_link = replace_query_param(
                request.build_absolute_uri(), self.cursor_query_param, cursor
            )
        return rows

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count"]["description"] = (
            "Rows in the list. For a large unfiltered list, PostgreSQL's estimate (see count_is_estimate); "
            "exact for any search or filter. Absent in cursor mode."
        )
        answer["properties"]["count_is_estimate"] = {
            "type": "boolean",
            "description": "True when count is the planner's estimate (large unfiltered lists). Absent in cursor mode.",
        }
        answer["properties"]["next"]["description"] = (
            "The next page: by page number, or in cursor mode the same list with the next cursor "
            "(null at the end)."
        )
        answer["required"] = ["results"]
        return answer

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        parameters.append({
            "name": self.cursor_query_param,
            "required": False,
            "in": "query",
            "description": "Cursor paging: give it empty for the first page, then follow each answer's next. "
                           "Each page costs the same however deep; a walk sees every row once even while rows "
                           "are added. Not with page or ordering. An unreadable cursor is a 400.",
            "schema": {"type": "string"},
        })
        return parameters


_CURSOR_KINDS = {int: "whole number", str: "text"}


def _cursor_keys(queryset: QuerySet) -> tuple[list[tuple[str, type]], QuerySet]:
    """The list's ordering as annotated key columns ``_key0``, ``_key1``, ... (name, Python type),
    and the queryset ordered by them (the same order, so the same plan)."""
    keys, annotations, ordering = [], {}, []
    for position, item in enumerate(queryset.query.order_by):
        if isinstance(item, str):
            if item.startswith("-"):
                raise serializers.ValidationError({"cursor": ["Cursor paging needs an ascending order."]})
            output = queryset.model._meta.get_field("id" if item == "pk" else item)
            expression = F(item)
        else:
            expression = item.expression if isinstance(item, OrderBy) else item
            if isinstance(item, OrderBy) and item.descending:
                raise serializers.ValidationError({"cursor": ["Cursor paging needs an ascending order."]})
            output = expression.resolve_expression(queryset.query).output_field
        if isinstance(output, models.IntegerField):
            kind = int
        elif isinstance(output, models.CharField | models.TextField):
            kind = str
        else:
            raise serializers.ValidationError({"cursor": ["Cursor paging is not offered for this order."]})
        name = f"_key{position}"
        keys.append((name, kind))
        annotations[name] = expression
        ordering.append(name)
    if not keys or keys[-1][1] is not int:
        raise serializers.ValidationError({"cursor": ["Cursor paging is not offered for this order."]})
    return keys, queryset.annotate(**annotations).order_by(*ordering)


def _after(keys, values) -> models.Q:
    """Rows after ``values`` in the key order: ``k0 >= v0 AND ((k0 > v0) OR (k0 = v0 AND k1 > v1) ...)``.

    The leading ``k0 >= v0`` lets PostgreSQL start an index scan on the first column there."""
    either = models.Q()
    for position, (name, _kind) in enumerate(keys):
        equal = {keys[i][0]: values[i] for i in range(position)}
        either |= models.Q(**equal, **{f"{name}__gt": values[position]})
    return models.Q(**{f"{keys[0][0]}__gte": values[0]}) & either


def _encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(text: str, keys) -> list:
    problem = ["Invalid cursor: start with an empty cursor and follow the answers' next links."]
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise serializers.ValidationError({"cursor": problem}) from None
    if not isinstance(values, list) or len(values) != len(keys):
        raise serializers.ValidationError({"cursor": problem})
    for value, (_name, kind) in zip(values, keys, strict=True):
        if type(value) is not kind or (kind is int and not -(2**63) <= value < 2**63) or (
                kind is str and ("\x00" in value or len(value) > 1000)):
            raise serializers.ValidationError({"cursor": problem})
    return values
