"""django-axes' lockout for everything that proves who someone is, not just the password on the sign-in page.

A wrong one-time code, or a wrong password given again to sign a note, counts as a failed
sign-in for that username from that address, the same as a wrong password: after
``LOGIN_FAILURE_LIMIT`` of them together the pair is locked out for ``LOGIN_LOCKOUT_MINUTES``.
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed

LOCKED_OUT_MESSAGE = "Too many failed sign-ins from here; try again later."


def http_request(request):
    """The Django request behind a DRF one (axes reads and marks the Django request)."""
    return getattr(request, "_request", request)


def credentials_for(user) -> dict:
    return {"username": user.get_username()}


def is_locked_out(request, user) -> bool:
    """Whether this user is locked out from the request's address; never without a request."""
    if request is None:
        return False
    return AxesProxyHandler.is_locked(http_request(request), credentials_for(user))


def count_failure(request, user) -> bool:
    """Record a failed attempt as django-axes records a wrong password; True when it locks the user out."""
    if request is None:
        return False
    request = http_request(request)
    user_login_failed.send(sender=__name__, credentials=credentials_for(user), request=request)
    return bool(getattr(request, "axes_locked_out", False))
