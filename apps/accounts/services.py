from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import lockout, two_factor
from apps.accounts.models import User
from apps.accounts.roles import GROUP_NAMES, Role


def set_role(*, user: User, role: Role | None) -> User:
    """Give a user exactly one role (or none), replacing any other."""
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=GROUP_NAMES.values()))
        if role is not None:
            user.groups.add(Group.objects.get(name=GROUP_NAMES[role]))
    user.__dict__.pop("_role", None)
    return user


def save_staff(*, user: User, role: Role | None, changed_by: User | None) -> User:
    """Add or change a staff account and give it exactly one role (or none); the change is in its history.

    A new account without a password cannot sign in until its owner sets one through the
    password-reset link.
    """
    with transaction.atomic():
        if user.pk is None and not user.password:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user._history_user = changed_by
        user.save()
        set_role(user=user, role=role)
    return user


def send_password_reset(*, user_id: int, base_url: str) -> bool:
    """Send one password-set link to an active user; False when there is nobody to send to."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return False
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    context = {
        "user": user,
        "reset_url": base_url.rstrip("/") + path,
        "valid_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    message = EmailMultiAlternatives(
        subject="Set your hipclinic password",  # no name in subjects: they show on lock screens
        body=render_to_string("registration/password_reset_email.txt", context),
        to=[user.email],
    )
    message.send()
    return True


# ---------------------------------------------------------------------------- two-factor sign-in

CODE_MISSING = "Enter the 6-digit code from your authenticator app, or one of your recovery codes."
CODE_WRONG = ("That code is not right, or was used already: enter the code your authenticator app shows now "
              "(or an unused recovery code).")
CODE_THROTTLED = "Several wrong codes in a row: wait a few seconds, then enter the code your app shows now."


def check_second_factor(*, user: User, code: str, request=None, field: str = "code") -> Device:
    """The device that accepts the user's one-time or recovery code; a wrong code counts toward the lockout.

    Raises ``ValidationError({field: ...})`` for a missing or wrong code, and when the user is
    locked out from the request's address. A code is good once: an authenticator's code not
    again in its time step, a recovery code never again.
    """
    if lockout.is_locked_out(request, user):
        raise ValidationError({field: lockout.LOCKED_OUT_MESSAGE}, code="locked_out")
    code = two_factor.normalise_code(code)
    if not code:
        raise ValidationError({field: CODE_MISSING}, code="required")
    model = TOTPDevice if two_factor.is_authenticator_code(code) else StaticDevice
    throttled = False
    with transaction.atomic():
        # Locked, so two requests with the same code cannot both use it.
        for device in model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk"):
            if not device.verify_is_allowed()[0]:
                throttled = True
            elif device.verify_token(code):
                return device
    if throttled:
        # No code was tried, so nothing counts toward the lockout.
        raise ValidationError({field: CODE_THROTTLED}, code="throttled")
    lockout.count_failure(request, user)
    raise ValidationError({field: CODE_WRONG}, code="invalid")


def confirm_identity(*, user: User, password: str, code: str = "", request=None) -> None:
    """The user's password again, and their one-time code when they use two-factor sign-in (as for signing a note).

    Wrong answers count toward the sign-in lockout when the request is given; a locked-out
    user is refused with a message saying so. Call it outside ``transaction.atomic()``: the
    record of a wrong answer is a row, which a transaction rolled back by the refusal would undo.
    """
    if lockout.is_locked_out(request, user):
        raise ValidationError(lockout.LOCKED_OUT_MESSAGE, code="locked_out")
    if not password or not user.check_password(password):
        lockout.count_failure(request, user)
        raise ValidationError({"password": "That is not your password."}, code="invalid")
    if two_factor.has_two_factor(user):
        check_second_factor(user=user, code=code, request=request, field="code")


def start_two_factor_enrolment(*, user: User) -> TOTPDevice:
    """The authenticator being set up: the same one until it is confirmed, so a reloaded page shows the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=two_factor.AUTHENTICATOR_NAME, confirmed=False)
    return device


def confirm_two_factor_enrolment(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the authenticator being set up with one code from it; returns it and a fresh set of recovery codes.

    A wrong code here does not count toward the lockout: the user is signed in already and
    reads the secret off the page, so there is nothing to guess.
    """
    code = two_factor.normalise_code(code)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            raise ValidationError({"code": "Reload the page to start setting up your authenticator app again."})
        if not two_factor.is_authenticator_code(code):
            raise ValidationError({"code": "Enter the 6-digit code your authenticator app shows."})
        if not device.verify_is_allowed()[0]:
            raise ValidationError({"code": CODE_THROTTLED})
        if not device.verify_token(code):
            raise ValidationError({"code": "That code does not match. Check that the phone's clock is right, "
                                           "then enter the code the app shows now."})
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = make_recovery_codes(user=user)
    return device, codes


def make_recovery_codes(*, user: User) -> list[str]:
    """A new set of single-use recovery codes for the user, replacing any earlier set (which stop working)."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name=two_factor.RECOVERY_CODES_NAME,
                                                       defaults={"confirmed": True})
        StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(two_factor.RECOVERY_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def reset_two_factor(*, user: User, reset_by: User | None) -> int:
    """Remove the user's authenticator and recovery codes (a lost phone); the reset is in the user's history.

    If their role needs two-factor, they set up a new authenticator at their next sign-in, and
    any session of theirs still open is asked to do so at its next page.
    """
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
        StaticDevice.objects.filter(user=user).delete()
        user._history_user = reset_by
        user._change_reason = "Two-factor sign-in reset"
        user.save()
    return removed
