"""A therapist fills in a red-flag screen in the admin, in a real browser, by keyboard and mouse."""

import re
from pathlib import Path

import pytest

from apps.patients.models import Referral
from tests.conftest import sign_in
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_therapist_ticks_the_screen_saves_it_sees_the_alert_then_clears_it(page, therapist):
    referral = ReferralFactory(cause="hip_osteoarthritis")
    sign_in(page, "therapist")

    page.goto(f"/admin/patients/patient/{referral.patient_id}/change/")
    page.locator("a.inlinechangelink").first.click()
    page.wait_for_url(f"**/admin/patients/referral/{referral.pk}/change/")

    low_back = page.get_by_role("group", name="Low back")
    hip = page.get_by_role("group", name="Hip")
    assert low_back.get_by_role("checkbox").count() == 11 and hip.get_by_role("checkbox").count() == 4
    # Keyboard: Space ticks the focused box, Tab moves to the next one.
    low_back.get_by_role("checkbox", name="Numbness in the saddle area").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.value") == "bowel"
    page.keyboard.press("Space")
    # Mouse: a click on the label ticks its box.
    hip.get_by_text("Cannot bear weight on the leg").click()
    page.get_by_role("button", name="Save and continue editing").press("Enter")
    page.wait_for_url(f"**/admin/patients/referral/{referral.pk}/change/")

    referral.refresh_from_db()
    assert referral.red_flags == ["saddle_anaesthesia", "bowel", "cannot_bear_weight"]
    assert page.get_by_test_id("red-flag-status").inner_text().startswith("Red flag: awaiting a therapist's decision")
    assert page.get_by_role("checkbox", name="Bowel incontinence").is_checked()
    assert not page.get_by_role("checkbox", name="New bladder retention or incontinence").is_checked()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("fieldset", has=page.get_by_role("group", name="Hip")).last.screenshot(
        path=str(SCREENSHOTS / "red-flag-screen.png"))

    # Cleared from the patient's own page, where the same screen shows in the referral's panel.
    page.goto(f"/admin/patients/patient/{referral.patient_id}/change/")
    for name in ["Numbness in the saddle area", "Bowel incontinence", "Cannot bear weight on the leg"]:
        page.get_by_role("checkbox", name=name).uncheck()
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(re.compile(rf"/admin/patients/patient/{referral.patient_id}/change/$"))

    assert Referral.objects.get(pk=referral.pk).red_flags == []
    assert page.get_by_test_id("red-flag-status").inner_text() == "Negative: no red flag found."
