"""Pages in a real browser (Debian's Chromium through Playwright)."""

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_front_desk_signs_in_and_sees_the_desk_home_page(page, frontdesk):
    page.goto("/")
    assert "/accounts/login/" in page.url

    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/desk/")
    assert page.get_by_role("heading", name="Front desk").is_visible()
    assert "Front desk" in page.get_by_test_id("signed-in-as").inner_text()


def test_a_wrong_password_shows_the_error_on_the_page(page, frontdesk):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_text("enter a correct username and password").is_visible()
    assert "/accounts/login/" in page.url
