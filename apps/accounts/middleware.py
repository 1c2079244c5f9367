"""Two-factor sign-in, enforced on every page: a session counts only once its one-time code is in.

Installed after django-otp's ``OTPMiddleware`` (which gives ``request.user.is_verified()``).
A signed-in user who must use two-factor sign-in (``two_factor.two_factor_required``) and whose
session has no verified code is sent to the code page, or to set up an authenticator if they
have none; the API, used with that session, answers 403. API calls with a token are left to
DRF: the token endpoint asked for the code when it issued the token.
"""

from urllib.parse import urlencode

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from apps.accounts import two_factor

# Pages an unverified session may open: signing in and out, the two-factor pages themselves,
# password resets, the health check and the API's own token exchange.
OPEN_BEFORE_SECOND_FACTOR = frozenset({
    "login", "logout", "two_factor_verify", "two_factor_enrol",
    "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "healthz", "api-token",
})
API_PREFIX = "/api/"


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if request.resolver_match.view_name in OPEN_BEFORE_SECOND_FACTOR:
            return None
        if request.path_info.startswith(API_PREFIX) and "HTTP_AUTHORIZATION" in request.META:
            return None  # a token (or other credentials) given: DRF authenticates with that, not the session
        if not two_factor.two_factor_required(user):
            return None
        enrolled = two_factor.has_two_factor(user)
        if request.path_info.startswith(API_PREFIX):
            step = "enter your one-time code" if enrolled else "set up two-factor sign-in"
            return JsonResponse({"detail": f"Two-factor sign-in is not complete: {step} on the sign-in page first."},
                                status=403)
        target = reverse("two_factor_verify" if enrolled else "two_factor_enrol")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)
