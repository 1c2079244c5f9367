"""A service's refusal (``ValidationError``), shown where the user made the mistake.

Services raise ``ValidationError`` with messages by field. The API answers them as a 400
with the same field names (``hipclinic.api.as_api_error``), and forms show them next to
their field (``place_errors``): one reading of the refusal for every way in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def messages_by_field(error: ValidationError) -> dict[str | None, list[str]]:
    """{field: [messages]}; None for messages about no one field."""
    if not hasattr(error, "error_dict"):
        return {None: list(error.messages)}
    return {(None if name == NON_FIELD_ERRORS else name): messages for name, messages in error.message_dict.items()}


def place_errors(
    error: ValidationError,
    forms: Iterable,
    *,
    field_map: dict[str, str] | None = None,
    elsewhere: dict[str, Callable[[list[str]], None]] | None = None,
) -> None:
    """Put each message on the first form with that field (``field_map`` renames a service's field to a
    form's), or hand it to ``elsewhere[field]`` (a formset's own errors), or show it above the first form."""
    forms = list(forms)
    field_map, elsewhere = field_map or {}, elsewhere or {}
    for name, messages in messages_by_field(error).items():
        if name in elsewhere:
            elsewhere[name](messages)
            continue
        target = field_map.get(name, name)
        form = next((form for form in forms if target in form.fields), None)
        if form is not None:
            form.add_error(target, messages)
        else:
            forms[0].add_error(None, messages)
