"""A therapist prescribes a home program from an assessment in the admin; the patient opens it."""

import re

import pytest

from apps.assessments.models import Assessment
from apps.assessments.services import record_assessment
from apps.prescriptions.models import Program, ProgramStatus
from tests.conftest import sign_in
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_therapist_prescribes_from_an_assessment_and_the_patient_opens_the_program(page, therapist, chromium):
    patient = ReferralFactory(cause="prolonged_sitting").patient
    assessment = record_assessment(
        assessment=Assessment(patient=patient, therapist=therapist), recorded_by=therapist,
        sides=[{"side": side, "mmt_grade": "4", "pain_on_resisted_flexion": True} for side in ("left", "right")])
    assert assessment.suggested_rung == 5

    sign_in(page, "therapist")
    page.goto(f"/admin/assessments/assessment/{assessment.pk}/change/")
    page.get_by_role("link", name="Start a program from this assessment").click()
    page.wait_for_url("**/admin/prescriptions/program/add/?from_assessment=*")

    # Pre-filled: the suggested rung and the next easier and harder exercises at default doses.
    chosen = [page.locator(f"#id_items-{n}-exercise option[selected]").inner_text() for n in range(3)]
    assert [name.split(".")[0] for name in chosen] == ["4", "5", "6"]
    page.locator("#id_items-1-sets").fill("3")
    page.locator("#id_goals").fill("Climb the stairs at home without stopping.")
    page.get_by_role("button", name="Save and activate").click()
    page.wait_for_url(re.compile(r"/admin/prescriptions/program/\d+/change/"))

    program = Program.objects.get(patient=patient)
    assert program.status == ProgramStatus.ACTIVE and program.source_assessment == assessment
    assert program.items.count() == 3 and program.versions.count() == 1
    assert page.get_by_text("First version.").is_visible()

    page.goto("/admin/prescriptions/program/")
    page.get_by_role("checkbox", name=re.compile("Select this object")).first.check()
    page.locator("select[name=action]").select_option("send_patient_link")
    page.get_by_role("button", name="Go").click()
    link = page.locator("a[href*='/p/']").first.get_attribute("href")

    phone = chromium.new_context(viewport={"width": 390, "height": 844})  # the patient, on a phone, not signed in
    try:
        patient_page = phone.new_page()
        patient_page.goto(link.replace("http://127.0.0.1:8000", page.url.split("/admin")[0]))
        assert patient_page.get_by_role("heading", name="Your home exercises").is_visible()
        items = patient_page.locator(".program-item")
        assert items.count() == 3
        assert "3 sets of" in items.nth(1).locator(".dose").inner_text()
        width = patient_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # readable on a phone: nothing wider than the screen
    finally:
        phone.close()
