from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

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


def confirm_identity(*, user: User, password: str, code: str = "", request=None) -> None:
    """Interim (the two-factor work replaces it): the signer's password again, and their one-time code if enrolled."""
    from django.core.exceptions import ValidationError
    from django_otp import devices_for_user

    if not password or not user.check_password(password):
        raise ValidationError({"password": "That is not your password."})
    devices = list(devices_for_user(user, confirmed=True))
    if devices and not any(device.verify_token(code) for device in devices if code):
        raise ValidationError({"code": "Enter the current code from your authenticator app."})
