"""Setting up two-factor sign-in in a real browser, as a therapist would with their phone, then
signing in with a recovery code (once only)."""

from base64 import b32decode

import pytest
from django_otp.oath import totp

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def password_step(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_therapist_sets_up_an_authenticator_then_signs_in_with_a_recovery_code_once(page, therapist):
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)

    password_step(page, "therapist")
    page.wait_for_url("**/accounts/two-factor/set-up/**")
    assert page.get_by_test_id("qr-code").locator("svg").is_visible()
    # The phone: the key typed in by hand, as an authenticator app would take it.
    secret = page.get_by_test_id("secret-key").inner_text()
    code = totp(b32decode(secret.replace(" ", "")), step=30, digits=6, t0=0)
    page.get_by_label("Code from the app").fill(f"{code:06d}")
    page.get_by_role("button", name="Confirm").click()

    page.wait_for_url("**/accounts/two-factor/recovery-codes/**")
    codes = page.get_by_test_id("recovery-codes").locator("li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    page.wait_for_url("**/admin/")
    page.get_by_role("button", name="Log out").click()

    password_step(page, "therapist")
    page.wait_for_url("**/accounts/two-factor/code/")
    page.get_by_label("One-time code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_text("recovery code; 9 left").is_visible()
    page.get_by_role("button", name="Log out").click()

    password_step(page, "therapist")
    page.wait_for_url("**/accounts/two-factor/code/")
    page.get_by_label("One-time code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()

    assert page.get_by_text("That code is not right, or was used already").is_visible()
    assert "/accounts/two-factor/code/" in page.url
    assert violations == []
