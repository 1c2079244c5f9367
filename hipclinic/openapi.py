"""The OpenAPI schema at /api/schema/: drf-spectacular's, with the error answers documented.

Its own module, not hipclinic/api.py: drf-spectacular imports DRF's views, which load the
permission classes from hipclinic/api.py (REST_FRAMEWORK's DEFAULT_PERMISSION_CLASSES).
"""

from drf_spectacular import openapi
from drf_spectacular.plumbing import append_meta
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

TIME_PATTERN = r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"
ERROR_DETAIL = inline_serializer("ErrorDetail", {"detail": serializers.CharField()})
FIELD_ERRORS_DESCRIPTION = ("Refused: each field's messages by field name (`non_field_errors` for the request as "
                            "a whole), or `detail` when the body could not be read.")


def field_errors_schema() -> dict:
    """A 400's body: messages by field name, nested for nested fields (a fresh dict each time)."""
    return {"type": "object", "additionalProperties": {}}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, plus the error answers DRF really gives, so that clients (and
    the API fuzzing in tests/test_api_fuzz.py) see every status code an operation can return:
    401 without valid credentials, 403 for a role without the permission, 404 for an unknown
    id or page, 400 for refused input, 415 for a body that is not JSON, 429 when throttled.
    Views document their own 400 (or others) with ``extend_schema`` where the body differs.
    Wall-clock times are described by a pattern (see _map_serializer_field)."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if isinstance(field, serializers.TimeField):
            # Wall-clock times ("08:30:00") carry no offset, which OpenAPI's format "time"
            # (RFC 3339 full-time) requires; so a pattern instead of the format.
            schema = {"type": "string", "pattern": TIME_PATTERN, "example": "08:30:00"}
            return append_meta(schema, self._get_serializer_field_meta(field, direction))
        return super()._map_serializer_field(field, direction, bypass_extensions)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _error_responses(self) -> dict:
        view = self.view
        errors = {"401": OpenApiResponse(ERROR_DETAIL, description="No valid credentials.")}
        if any(not issubclass(permission, AllowAny) for permission in view.permission_classes):
            errors["403"] = OpenApiResponse(ERROR_DETAIL, description="The role may not do this.")
        paged_list = self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
        if self.method in ("POST", "PUT", "PATCH") or paged_list or self._get_filter_parameters():
            errors["400"] = OpenApiResponse(field_errors_schema(), description=FIELD_ERRORS_DESCRIPTION)
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = OpenApiResponse(ERROR_DETAIL, description="The body is not in a media type listed here.")
        if "{" in self.path or paged_list:
            errors["404"] = OpenApiResponse(ERROR_DETAIL, description="No such record (or page).")
        if getattr(view, "throttle_classes", None):
            errors["429"] = OpenApiResponse(ERROR_DETAIL, description="Too many requests; try again later.")
        return errors
