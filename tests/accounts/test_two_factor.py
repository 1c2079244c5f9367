"""Two-factor sign-in: who is asked, setting up an authenticator, codes and recovery codes, the
lockout, the API token, the identity check for signing, and a manager's reset.

These tests sign in as staff do (``raw_sign_in``): the harness's verified ``force_login`` is off.
"""

import re
from base64 import b32decode

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services, two_factor
from apps.accounts.models import User
from apps.accounts.roles import Role
from tests.conftest import PASSWORD, authenticator_for, one_time_code
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.raw_sign_in]

LOGIN, CODE, ENROL = "/accounts/login/", "/accounts/two-factor/code/", "/accounts/two-factor/set-up/"
RECOVERY, SETTINGS = "/accounts/two-factor/recovery-codes/", "/accounts/two-factor/"
# Wrong codes a few seconds apart: django-otp holds back a code tried right after a wrong one
# (1 s, then 2, 4, 8 ...), and one held back is not tried, so it would not count toward the lockout.
PAUSE = 20


@pytest.fixture(autouse=True)
def _no_throttle_counts_across_tests():
    cache.clear()  # the token endpoint's rate limit counts per address: neither theirs here nor ours there
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel("2026-11-23 09:00 +0000", tick=False) as traveller:
        yield traveller


def not_the_code(device) -> str:
    """A 6-digit code the authenticator does not show now, nor a step either side."""
    import time

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    valid = set()
    for offset in range(-2, 3):
        totp.time = time.time() + offset * device.step
        valid.add(str(totp.token()).zfill(6))
    return next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)


def password_step(client, user, **extra):
    return client.post(LOGIN, {"username": user.username, "password": PASSWORD, **extra})


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def verified(client, user):
    """Signed in with the code given (what the harness's force_login does outside this module)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()
    return client


def recovery_codes_of(user) -> list[str]:
    return list(StaticDevice.objects.get(user=user).token_set.values_list("token", flat=True))


# ---------------------------------------------------------------------------- who is asked


@pytest.mark.parametrize("role", [Role.THERAPIST, Role.ASSISTANT, Role.CLINIC_MANAGER])
def test_clinicians_and_managers_always_need_two_factor(role):
    assert two_factor.two_factor_required(UserFactory(role=role))


def test_the_front_desk_needs_it_only_when_the_clinic_says_so(frontdesk, clinic_policy):
    assert not two_factor.two_factor_required(frontdesk)

    clinic_policy(two_factor_for_front_desk=True)

    assert two_factor.two_factor_required(User.objects.get(pk=frontdesk.pk))


def test_superusers_need_it_and_users_without_a_role_are_never_asked():
    assert two_factor.two_factor_required(UserFactory(is_superuser=True))
    assert not two_factor.two_factor_required(UserFactory(role=None))


# ---------------------------------------------------------------------------- setting up


def test_a_therapist_without_an_authenticator_sets_one_up_right_after_the_password(client, therapist, clock):
    response = password_step(client, therapist)
    assert response.status_code == 302 and response.url.startswith(ENROL)

    # Nothing else opens until the authenticator is set up.
    assert client.get("/admin/").url.startswith(ENROL)

    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "no-store" in page.headers["Cache-Control"]
    secret = re.search(r'data-testid="secret-key">([A-Z2-7 ]+)<', html).group(1)
    device = TOTPDevice.objects.get(user=therapist, confirmed=False)
    assert b32decode(secret.replace(" ", "")) == device.bin_key
    # A reload shows the same key: the phone may have scanned it already.
    assert secret in client.get(ENROL).content.decode()

    confirmed = client.post(ENROL, {"code": one_time_code(device)})

    assert confirmed.status_code == 302 and confirmed.url.startswith(RECOVERY)
    codes_page = client.get(confirmed.url).content.decode()
    codes = recovery_codes_of(therapist)
    assert len(codes) == 10
    assert all(f"{code[:4]}-{code[4:]}" in codes_page for code in codes)
    # Shown once.
    again = client.get(RECOVERY)
    assert again.status_code == 302 and again.url == SETTINGS
    assert client.get("/admin/").status_code == 200
    assert TOTPDevice.objects.get(user=therapist).confirmed


def test_a_wrong_code_while_setting_up_is_refused_and_does_not_count_toward_the_lockout(client, therapist, settings,
                                                                                        clock):
    password_step(client, therapist)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=therapist)

    for _ in range(settings.AXES_FAILURE_LIMIT):
        refused = client.post(ENROL, {"code": not_the_code(device)})
        assert refused.status_code == 200 and "does not match" in refused.content.decode()
        clock.shift(PAUSE)

    assert AccessAttempt.objects.count() == 0
    assert client.post(ENROL, {"code": one_time_code(device)}).status_code == 302


def test_the_front_desk_signs_in_with_the_password_alone_by_default(client, frontdesk):
    response = password_step(client, frontdesk)

    assert response.status_code == 302 and response.url == "/"
    assert client.get("/desk/").status_code == 200


def test_the_clinic_can_require_it_for_the_front_desk(client, frontdesk, clinic_policy):
    clinic_policy(two_factor_for_front_desk=True)

    response = password_step(client, frontdesk)

    assert response.url.startswith(ENROL)
    assert client.get("/desk/").url.startswith(ENROL)


def test_a_front_desk_session_opened_before_the_clinic_required_it_is_asked_at_its_next_page(
    client, frontdesk, clinic_policy
):
    password_step(client, frontdesk)
    assert client.get("/desk/").status_code == 200

    clinic_policy(two_factor_for_front_desk=True)

    assert client.get("/desk/").url == f"{ENROL}?next=%2Fdesk%2F"


def test_the_front_desk_may_set_it_up_without_being_required_to_and_is_then_asked(client, frontdesk, clock):
    password_step(client, frontdesk)
    client.get(ENROL)
    client.post(ENROL, {"code": one_time_code(TOTPDevice.objects.get(user=frontdesk))})
    client.post("/accounts/logout/")
    clock.shift(60)

    assert password_step(client, frontdesk).url == CODE


# ---------------------------------------------------------------------------- signing in with a code


def test_after_the_password_the_code_page_asks_and_only_the_right_code_signs_in(client, therapist, clock):
    device = authenticator_for(therapist)

    response = password_step(client, therapist, next="/admin/patients/patient/")

    assert response.status_code == 302 and response.url == CODE
    assert signed_in_user_id(client) is None  # not signed in yet
    assert client.get("/desk/").url.startswith(LOGIN)
    wrong = client.post(CODE, {"code": not_the_code(device)})
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert signed_in_user_id(client) is None

    clock.shift(PAUSE)
    right = client.post(CODE, {"code": one_time_code(device)})

    assert right.status_code == 302 and right.url == "/admin/patients/patient/"
    assert signed_in_user_id(client) == str(therapist.pk)
    assert client.get("/admin/").status_code == 200


def test_a_code_is_good_once(client, therapist, clock):
    device = authenticator_for(therapist)
    code = one_time_code(device)
    password_step(client, therapist)
    client.post(CODE, {"code": code})
    client.post("/accounts/logout/")

    password_step(client, therapist)
    replayed = client.post(CODE, {"code": code})

    assert replayed.status_code == 200 and signed_in_user_id(client) is None


def test_a_recovery_code_signs_in_once(client, therapist, clock):
    authenticator_for(therapist)
    code = services.make_recovery_codes(user=therapist)[0]

    password_step(client, therapist)
    used = client.post(CODE, {"code": f" {code[:4].upper()}-{code[4:]} "}, follow=True)  # as copied from the page

    assert signed_in_user_id(client) == str(therapist.pk)
    assert "recovery code; 9 left" in used.content.decode()
    client.post("/accounts/logout/")
    clock.shift(PAUSE)
    password_step(client, therapist)
    again = client.post(CODE, {"code": code})
    assert again.status_code == 200 and signed_in_user_id(client) is None
    assert len(recovery_codes_of(therapist)) == 9


def test_the_code_page_waits_five_minutes_for_the_code(client, therapist, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)

    clock.shift(two_factor.PENDING_SIGN_IN_SECONDS + 1)
    late = client.post(CODE, {"code": one_time_code(device)})

    assert late.status_code == 302 and late.url == LOGIN
    assert signed_in_user_id(client) is None


def test_the_code_page_without_a_password_given_sends_to_the_sign_in_page(client):
    assert client.get(CODE).url == LOGIN


# ---------------------------------------------------------------------------- lockout


def test_wrong_codes_lock_the_sign_in_out_like_wrong_passwords(client, therapist, settings, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)

    answers = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answers.append(client.post(CODE, {"code": not_the_code(device)}).status_code)
        clock.shift(PAUSE)

    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.post(CODE, {"code": one_time_code(device)})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert signed_in_user_id(client) is None
    # The right password is refused too, until the cool-off ends.
    assert password_step(Client(), therapist).status_code == 429
    clock.shift(settings.AXES_COOLOFF_TIME.total_seconds() + 60)
    fresh = Client()
    password_step(fresh, therapist)
    assert fresh.post(CODE, {"code": one_time_code(device)}).status_code == 302


def test_giving_the_right_password_again_does_not_clear_the_count_of_wrong_codes(client, therapist, settings, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(CODE, {"code": not_the_code(device)})
        clock.shift(PAUSE)

    password_step(client, therapist)  # the password is right: but a sign-in is only done once the code is

    assert client.post(CODE, {"code": not_the_code(device)}).status_code == 429


def test_wrong_passwords_and_wrong_codes_count_together(client, therapist, settings, clock):
    device = authenticator_for(therapist)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(LOGIN, {"username": "therapist", "password": "guess"})
    password_step(client, therapist)

    assert client.post(CODE, {"code": not_the_code(device)}).status_code == 429


def test_a_code_tried_right_after_a_wrong_one_waits_and_does_not_count(client, therapist, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)
    wrong_code = not_the_code(device)
    client.post(CODE, {"code": wrong_code})

    hasty = client.post(CODE, {"code": one_time_code(device)})  # within the second django-otp holds back

    assert "wait a few seconds" in hasty.content.decode() and signed_in_user_id(client) is None
    attempt = AccessAttempt.objects.get(username="therapist")
    assert attempt.failures_since_start == 1
    assert wrong_code not in attempt.post_data  # masked, like a password
    clock.shift(2)
    assert client.post(CODE, {"code": one_time_code(device)}).status_code == 302


def test_a_right_code_clears_the_count_of_failures(client, therapist, settings, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)
    client.post(CODE, {"code": not_the_code(device)})
    clock.shift(PAUSE)

    client.post(CODE, {"code": one_time_code(device)})

    assert AccessAttempt.objects.filter(username="therapist").count() == 0


# ---------------------------------------------------------------------------- sessions without the code


def test_a_session_without_its_code_reaches_no_staff_page_and_no_api(client, therapist, frontdesk, clinic_policy):
    authenticator_for(therapist)
    client.force_login(therapist)  # Django's own: signed in, no code given

    for url in ["/", "/admin/", "/admin/patients/patient/", "/desk/", "/accounts/two-factor/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == f"{CODE}?next={url.replace('/', '%2F')}", url
    api = client.get("/api/v1/me/")
    assert api.status_code == 403
    assert "one-time code" in api.json()["detail"]
    assert client.post("/api/v1/patients/", {}, content_type="application/json").status_code == 403


def test_a_session_of_someone_who_never_set_it_up_is_sent_to_set_it_up(client, manager):
    client.force_login(manager)

    assert client.get("/admin/").url == f"{ENROL}?next=%2Fadmin%2F"
    assert "set up two-factor" in client.get("/api/v1/me/").json()["detail"]


def test_an_api_call_with_a_token_is_left_to_the_token(client, therapist):
    from rest_framework.authtoken.models import Token

    authenticator_for(therapist)
    client.force_login(therapist)  # an unverified session cookie beside a token: the token decides

    response = client.get("/api/v1/me/", headers={"Authorization": f"Token {Token.objects.create(user=therapist)}"})

    assert response.status_code == 200


# ---------------------------------------------------------------------------- the API token


def test_the_api_token_needs_the_one_time_code_of_staff_who_use_two_factor(api_client, therapist, clock):
    device = authenticator_for(therapist)
    url = "/api/v1/auth/token/"

    missing = api_client.post(url, {"username": "therapist", "password": PASSWORD}, format="json")
    wrong = api_client.post(url, {"username": "therapist", "password": PASSWORD, "otp": not_the_code(device)},
                            format="json")
    clock.shift(PAUSE)
    right = api_client.post(url, {"username": "therapist", "password": PASSWORD, "otp": one_time_code(device)},
                            format="json")

    assert missing.status_code == 400 and list(missing.json()) == ["otp"]
    assert wrong.status_code == 400 and "not right" in wrong.json()["otp"][0]
    assert right.status_code == 200 and right.json()["token"]


def test_the_api_token_takes_a_recovery_code(api_client, therapist):
    authenticator_for(therapist)
    code = services.make_recovery_codes(user=therapist)[3]

    response = api_client.post("/api/v1/auth/token/", {"username": "therapist", "password": PASSWORD, "otp": code},
                               format="json")

    assert response.status_code == 200
    assert code not in recovery_codes_of(therapist)


def test_the_api_token_asks_staff_who_must_use_two_factor_to_set_it_up_first(api_client, manager):
    response = api_client.post("/api/v1/auth/token/", {"username": "manager", "password": PASSWORD}, format="json")

    assert response.status_code == 400 and "Set up two-factor" in response.json()["otp"][0]


def test_the_front_desk_gets_a_token_with_the_password_alone(api_client, frontdesk):
    response = api_client.post("/api/v1/auth/token/", {"username": "frontdesk", "password": PASSWORD}, format="json")

    assert response.status_code == 200


def test_wrong_codes_to_the_token_endpoint_lock_it_out(api_client, therapist, settings, clock):
    device = authenticator_for(therapist)

    statuses = []
    for _ in range(settings.AXES_FAILURE_LIMIT):
        statuses.append(api_client.post("/api/v1/auth/token/", {"username": "therapist", "password": PASSWORD,
                                                                "otp": not_the_code(device)}, format="json"))
        clock.shift(PAUSE)
    right = api_client.post("/api/v1/auth/token/", {"username": "therapist", "password": PASSWORD,
                                                    "otp": one_time_code(device)}, format="json")

    assert [response.status_code for response in statuses] == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert right.status_code == 429 and "token" not in right.json()


def test_the_schema_documents_the_otp_field(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)

    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    request = schema["components"]["schemas"]["TokenRequestRequest"]
    assert "otp" in request["properties"] and "otp" not in request.get("required", [])
    assert "one-time" in request["properties"]["otp"]["description"].lower() or \
        "authenticator" in request["properties"]["otp"]["description"]


# ---------------------------------------------------------------------------- confirming identity (signing)


def a_request():
    return RequestFactory().post("/admin/visits/visitnote/1/sign/", REMOTE_ADDR="192.0.2.20")


def test_confirm_identity_wants_the_password(therapist):
    with pytest.raises(ValidationError) as refused:
        services.confirm_identity(user=therapist, password="nope")
    assert list(refused.value.message_dict) == ["password"]

    services.confirm_identity(user=therapist, password=PASSWORD)  # no authenticator: the password alone


def test_confirm_identity_wants_the_code_from_someone_with_two_factor(therapist, clock):
    device = authenticator_for(therapist)

    for code in ["", "12345", not_the_code(device)]:
        with pytest.raises(ValidationError) as refused:
            services.confirm_identity(user=therapist, password=PASSWORD, code=code)
        assert list(refused.value.message_dict) == ["code"], code
        clock.shift(PAUSE)

    services.confirm_identity(user=therapist, password=PASSWORD, code=one_time_code(device))


def test_confirm_identity_takes_a_recovery_code_once(therapist, clock):
    authenticator_for(therapist)
    code = services.make_recovery_codes(user=therapist)[0]

    services.confirm_identity(user=therapist, password=PASSWORD, code=code)

    with pytest.raises(ValidationError):
        services.confirm_identity(user=therapist, password=PASSWORD, code=code)


def test_confirm_identity_counts_wrong_answers_toward_the_lockout_and_then_refuses(therapist, settings, clock):
    device = authenticator_for(therapist)
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        with pytest.raises(ValidationError):
            if attempt % 2:
                services.confirm_identity(user=therapist, password="nope", request=a_request())
            else:
                services.confirm_identity(user=therapist, password=PASSWORD, code=not_the_code(device),
                                          request=a_request())
        clock.shift(PAUSE)

    with pytest.raises(ValidationError) as refused:
        services.confirm_identity(user=therapist, password=PASSWORD, code=one_time_code(device), request=a_request())

    assert refused.value.messages == ["Too many failed sign-ins from here; try again later."]
    # Without a request (a script, a test) nothing is counted or checked.
    services.confirm_identity(user=therapist, password=PASSWORD, code=one_time_code(device))


# ---------------------------------------------------------------------------- resets


def test_a_manager_resets_a_colleagues_two_factor_from_the_staff_list(client, therapist, manager, clock):
    authenticator_for(therapist)
    services.make_recovery_codes(user=therapist)
    signed_in = verified(Client(), manager)

    response = signed_in.post("/admin/accounts/user/", {"action": "reset_two_factor",
                                                        "_selected_action": [therapist.pk]}, follow=True)

    assert response.status_code == 200 and "Two-factor sign-in reset for 1" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=therapist).exists()
    assert not StaticDevice.objects.filter(user=therapist).exists()
    assert User.history.get(id=therapist.pk, history_change_reason="Two-factor sign-in reset").history_user == manager
    # Their next sign-in sets up the new phone.
    assert password_step(client, therapist).url.startswith(ENROL)


def test_a_reset_sends_the_staff_members_open_session_to_set_it_up_again(client, therapist, clock):
    device = authenticator_for(therapist)
    password_step(client, therapist)
    client.post(CODE, {"code": one_time_code(device)})
    assert client.get("/admin/").status_code == 200

    services.reset_two_factor(user=therapist, reset_by=None)

    assert client.get("/admin/").url.startswith(ENROL)


def test_a_manager_cannot_reset_a_superusers_two_factor(manager):
    from apps.accounts.admin import UserAdmin

    boss = UserFactory(is_superuser=True)
    authenticator_for(boss)
    request = RequestFactory().post("/admin/accounts/user/")
    request.user = manager
    request._messages = type("Messages", (), {"add": lambda *args, **kwargs: None})()

    UserAdmin(User, admin.site).reset_two_factor(request, User.objects.filter(pk=boss.pk))

    assert TOTPDevice.objects.filter(user=boss).exists()


def test_staff_make_new_recovery_codes_and_move_to_a_new_phone_with_their_password_and_code(client, therapist,
                                                                                           clock):
    device = authenticator_for(therapist)
    old_codes = services.make_recovery_codes(user=therapist)
    password_step(client, therapist)
    client.post(CODE, {"code": one_time_code(device)})
    clock.shift(60)

    wrong = client.post(SETTINGS, {"action": "new_codes", "password": "nope", "code": one_time_code(device)})
    assert wrong.status_code == 200 and recovery_codes_of(therapist) == old_codes

    new = client.post(SETTINGS, {"action": "new_codes", "password": PASSWORD, "code": one_time_code(device)})
    assert new.url == RECOVERY and set(recovery_codes_of(therapist)).isdisjoint(old_codes)
    assert client.get(RECOVERY).status_code == 200

    clock.shift(60)
    moved = client.post(SETTINGS, {"action": "reset", "password": PASSWORD, "code": one_time_code(device)})
    assert moved.url == ENROL
    assert not TOTPDevice.objects.filter(user=therapist, confirmed=True).exists()
    assert client.get("/admin/").url.startswith(ENROL)


# ---------------------------------------------------------------------------- the admin


def test_the_admin_shows_no_authenticator_secrets_or_recovery_codes():
    assert TOTPDevice not in admin.site._registry
    assert StaticDevice not in admin.site._registry


def test_the_staff_page_says_whether_two_factor_is_set_up(client, manager, therapist):
    verified(client, manager)

    before = client.get(f"/admin/accounts/user/{therapist.pk}/change/").content.decode()
    authenticator_for(therapist)
    services.make_recovery_codes(user=therapist)
    after = client.get(f"/admin/accounts/user/{therapist.pk}/change/").content.decode()

    assert "Not set up yet" in before
    assert "On (10 recovery codes left)" in after
