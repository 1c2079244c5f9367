import time
from urllib.parse import urlencode

from axes.helpers import get_lockout_response
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from apps.accounts import lockout, services, two_factor
from apps.accounts.forms import (
    ClinicAuthenticationForm,
    ConfirmIdentityForm,
    EnrolmentCodeForm,
    OneTimeCodeForm,
    QueuedPasswordResetForm,
)
from apps.accounts.roles import Role
from hipclinic.errors import place_errors

# The sign-in waiting for its one-time code: the user who gave the right password, and when.
# They are signed in (and django-axes forgets their failed attempts) only once the code is right,
# so a correct password cannot be used to clear the count of wrong codes.
PENDING_SIGN_IN = "two_factor_pending"
# Recovery codes just made, shown once by the next page.
NEW_RECOVERY_CODES = "two_factor_new_codes"


class LoginView(auth_views.LoginView):
    authentication_form = ClinicAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        next_url = self.get_success_url()
        if two_factor.has_two_factor(user):
            self.request.session.cycle_key()
            self.request.session[PENDING_SIGN_IN] = {"user": user.pk, "backend": user.backend, "next": next_url,
                                                     "since": time.time()}
            return redirect("two_factor_verify")
        auth_login(self.request, user)
        if two_factor.two_factor_required(user):
            return redirect(_with_next(reverse("two_factor_enrol"), next_url))
        return redirect(next_url)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm
    success_url = reverse_lazy("password_reset_done")


@login_required
def home(request):
    """Each role starts where its work is: the front desk at the desk, clinicians in the admin."""
    user = request.user
    if not user.is_clinic_staff:
        raise PermissionDenied
    if user.role == Role.FRONT_DESK:
        return redirect("desk:home")
    return redirect("admin:index")


# ---------------------------------------------------------------------------- two-factor sign-in


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _next_from(request, default: str = "") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default or reverse("home")


def _pending_sign_in(request):
    """(user, pending) for a password given on the sign-in page and waiting for its code; (None, None) if none."""
    pending = request.session.get(PENDING_SIGN_IN)
    if not pending:
        return None, None
    user = get_user_model()._default_manager.filter(pk=pending["user"], is_active=True).first()
    if user is None or time.time() - pending["since"] > two_factor.PENDING_SIGN_IN_SECONDS:
        del request.session[PENDING_SIGN_IN]
        return None, None
    return user, pending


def _staff_only(request):
    if not request.user.is_clinic_staff:
        raise PermissionDenied


@never_cache
@sensitive_post_parameters("code")
def two_factor_verify(request):
    """The sign-in's second step: the one-time code (or a recovery code) after the password."""
    if request.user.is_authenticated:
        user, pending = request.user, None
        if user.is_verified():
            return redirect(_next_from(request))
        next_url = _next_from(request)
    else:
        user, pending = _pending_sign_in(request)
        if user is None:
            messages.info(request, "Sign in with your password first (a sign-in waits five minutes for its code).")
            return redirect("login")
        next_url = pending["next"]
    if not two_factor.has_two_factor(user):
        if pending is not None:  # reset by a manager since the password was given
            del request.session[PENDING_SIGN_IN]
            return redirect("login")
        return redirect(_with_next(reverse("two_factor_enrol"), next_url))
    if lockout.is_locked_out(request, user):
        return get_lockout_response(request, None, lockout.credentials_for(user))
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.check_second_factor(user=user, code=form.cleaned_data["code"], request=request)
        except ValidationError as error:
            place_errors(error, [form])  # the wrong code that locks the user out gets django-axes' page instead
        else:
            if pending is not None:
                auth_login(request, user, backend=pending["backend"])
                request.session.pop(PENDING_SIGN_IN, None)
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = two_factor.recovery_codes_left(user)
                messages.warning(request, f"You signed in with a recovery code; {left} left. If your phone is lost, "
                                          "ask your clinic manager to reset your two-factor sign-in.")
            return redirect(next_url)
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": next_url})


@never_cache
@login_required
@sensitive_post_parameters("code")
def two_factor_enrol(request):
    """Set up an authenticator app: a QR code (and the key to type), one code to confirm, then recovery codes."""
    _staff_only(request)
    user = request.user
    next_url = _next_from(request)
    if two_factor.has_two_factor(user):
        if user.is_verified():
            return redirect("two_factor")
        return redirect(_with_next(reverse("two_factor_verify"), next_url))
    device = services.start_two_factor_enrolment(user=user)
    form = EnrolmentCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = services.confirm_two_factor_enrolment(user=user, code=form.cleaned_data["code"])
        except ValidationError as error:
            place_errors(error, [form])
        else:
            otp_login(request, device)
            request.session[NEW_RECOVERY_CODES] = codes
            return redirect(_with_next(reverse("two_factor_recovery_codes"), next_url))
    return render(request, "registration/two_factor_enrol.html", {
        "form": form, "next": next_url, "required": two_factor.two_factor_required(user),
        "qr_code": two_factor.qr_code_svg(device.config_url), "secret": two_factor.secret_for_typing(device),
    })


@never_cache
@login_required
def two_factor_recovery_codes(request):
    """The recovery codes just made, shown this once."""
    _staff_only(request)
    codes = request.session.pop(NEW_RECOVERY_CODES, None)
    if not codes:
        messages.info(request, "Recovery codes are shown once, when they are made. You can make a new set here.")
        return redirect("two_factor")
    return render(request, "registration/two_factor_recovery_codes.html", {
        "codes": [two_factor.recovery_code_for_reading(code) for code in codes], "next": _next_from(request)})


@never_cache
@login_required
@sensitive_post_parameters("password", "code")
def two_factor_settings(request):
    """One's own two-factor sign-in: a new set of recovery codes, or a new phone (turn it off and set it up again)."""
    _staff_only(request)
    user = request.user
    form = ConfirmIdentityForm(request.POST or None)
    action = request.POST.get("action")
    if request.method == "POST" and form.is_valid() and action not in {"new_codes", "reset"}:
        form.add_error(None, "Choose what to do: new recovery codes, or a new phone.")
    elif request.method == "POST" and form.is_valid():
        try:
            services.confirm_identity(user=user, password=form.cleaned_data["password"],
                                      code=form.cleaned_data["code"], request=request)
        except ValidationError as error:
            place_errors(error, [form])
        else:
            if action == "new_codes":
                request.session[NEW_RECOVERY_CODES] = services.make_recovery_codes(user=user)
                return redirect("two_factor_recovery_codes")
            services.reset_two_factor(user=user, reset_by=user)
            if two_factor.two_factor_required(user):
                return redirect("two_factor_enrol")
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("two_factor")
    enrolled = two_factor.has_two_factor(user)
    return render(request, "registration/two_factor_settings.html", {
        "form": form, "enrolled": enrolled, "required": two_factor.two_factor_required(user),
        "codes_left": two_factor.recovery_codes_left(user) if enrolled else 0,
    })
