"""Two-factor sign-in: who must use it, and what a user's authenticator and recovery codes are.

Therapists, assistants and clinic managers (and superusers) always sign in with a one-time
code as well as their password; the front desk does when the clinic's policy says so. The
policy lives in ``apps.ops``, which sits beside this app and may import it but not the other
way round, so ops hands its rule over in its ``AppConfig.ready()``
(``require_for_front_desk_when``). Writes (enrolment, checking a code, resets) are in
``apps.accounts.services``.
"""

from __future__ import annotations

import re
from base64 import b32encode
from collections.abc import Callable

from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role

ALWAYS_REQUIRED = frozenset({Role.THERAPIST, Role.ASSISTANT, Role.CLINIC_MANAGER})
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_CODES_NAME = "Recovery codes"
# A password given on the sign-in page waits this long for its one-time code.
PENDING_SIGN_IN_SECONDS = 5 * 60

_front_desk_rule: Callable[[], bool] | None = None


def require_for_front_desk_when(rule: Callable[[], bool]) -> None:
    """Register the clinic's setting: ``rule()`` says whether the front desk needs two-factor sign-in."""
    global _front_desk_rule
    _front_desk_rule = rule


def two_factor_required(user) -> bool:
    """Whether this user must sign in with a one-time code as well as their password."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    role = user.role
    if role in ALWAYS_REQUIRED:
        return True
    if role == Role.FRONT_DESK:
        # Without the clinic's rule registered (ops not ready), ask rather than let staff through.
        return _front_desk_rule() if _front_desk_rule is not None else True
    return False


def authenticator(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they have set one up."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def has_two_factor(user) -> bool:
    """Whether the user has set up two-factor sign-in (a confirmed authenticator)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return device.token_set.count() if device is not None else 0


def normalise_code(code: str) -> str:
    """What the user typed, without the spaces and dashes they may copy with it; recovery codes in lower case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def is_authenticator_code(code: str) -> bool:
    """Six digits are the authenticator's; anything else is tried as a recovery code."""
    return re.fullmatch(r"[0-9]{6}", code) is not None


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret key as authenticator apps take it typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def recovery_code_for_reading(code: str) -> str:
    """``abcdefgh`` -> ``abcd-efgh``: easier to copy by hand (the dash is ignored when typed back)."""
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def qr_code_svg(data: str) -> str:
    """An inline SVG QR code of ``data`` (no image file, nothing fetched: the page's CSP holds)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    image = qrcode.make(data, image_factory=SvgPathImage, box_size=8, border=2)
    return image.to_string(encoding="unicode")
