"""A therapist records a full assessment in the admin, in a real browser, against the clock."""

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.assessments.models import Assessment, OutcomeMeasure, SideFindings
from tests.conftest import sign_in
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def patient_with_baseline(therapist):
    """A referred patient assessed six weeks ago: weak left hip, LEFS 38."""
    patient = ReferralFactory(cause="hip_osteoarthritis").patient
    baseline = Assessment.objects.create(patient=patient, therapist=therapist, pain_now=6, pain_worst_week=8,
                                         assessed_on=timezone.localdate() - timedelta(weeks=6))
    SideFindings.objects.create(assessment=baseline, side="left", mmt_grade="3", pain_on_resisted_flexion=True,
                                knee_hold_seconds=4, dynamometry_trial_1=140)
    SideFindings.objects.create(assessment=baseline, side="right", mmt_grade="4+", knee_hold_seconds=12,
                                dynamometry_trial_1=190)
    OutcomeMeasure.objects.create(patient=patient, assessment=baseline, measure="lefs", items=[2] * 19 + [0],
                                  recorded_on=baseline.assessed_on)
    OutcomeMeasure.objects.create(patient=patient, assessment=baseline, measure="nprs", items=[6],
                                  recorded_on=baseline.assessed_on)
    return patient


def test_a_therapist_records_a_full_assessment_in_under_two_minutes_and_sees_the_progress_chart(
    page, therapist, patient_with_baseline
):
    patient = patient_with_baseline
    started = time.monotonic()
    sign_in(page, "therapist")

    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    page.get_by_role("link", name="Record an assessment").click()
    page.wait_for_url("**/admin/assessments/assessment/add/**")

    page.get_by_label("Difficulty climbing stairs").check()
    page.get_by_label("Knee pain").check()
    page.locator("#id_clinical_history").fill("Stairs harder for 3 months; sits 9 hours a day.")
    page.locator("#id_pain_now").fill("3")
    page.locator("#id_pain_worst_week").fill("5")
    for n, (grade, painful, hold, trials, iliopsoas) in enumerate(
        [("4", "painful", "9", ["170", "176", "181"], "positive"),
         ("5", "painful", "20", ["205", "199", ""], "negative")]
    ):
        page.locator(f"#id_sides-{n}-mmt_grade").select_option(f"{grade}")
        page.locator(f"#id_sides-{n}-pain_on_resisted_flexion").select_option(label=painful)
        page.locator(f"#id_sides-{n}-knee_hold_seconds").fill(hold)
        for trial, value in enumerate(trials, start=1):
            if value:
                page.locator(f"#id_sides-{n}-dynamometry_trial_{trial}").fill(value)
        page.locator(f"#id_sides-{n}-thomas_iliopsoas").select_option(label=iliopsoas)
        page.locator(f"#id_sides-{n}-thomas_rectus_femoris").select_option(label="negative")
    page.get_by_text("Add another Outcome measure").click()
    page.locator("#id_outcome_measures-0-measure").select_option("lefs")
    page.locator("#id_outcome_measures-0-items").fill(",".join(["3"] * 17 + ["2"] * 3))
    page.get_by_text("Add another Outcome measure").click()
    page.locator("#id_outcome_measures-1-measure").select_option("nprs")
    page.locator("#id_outcome_measures-1-items").fill("3")
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(re.compile(r"/admin/assessments/assessment/\d+/change/"))
    elapsed = time.monotonic() - started

    assert elapsed < 120, f"recording the assessment took {elapsed:.0f} s"
    assessment = Assessment.objects.latest("id")
    assert assessment.classification == "both"  # left 4/5, hold 9 s < 10 s; iliopsoas tight on the left
    assert page.get_by_text("Weak and tight").is_visible()
    lefs = OutcomeMeasure.objects.get(assessment=assessment, measure="lefs")
    assert lefs.score == 57 and lefs.complete

    page.goto(f"/admin/patients/patient/{patient.pk}/change/")
    page.wait_for_selector("[data-drawn=true]")
    summary = page.get_by_test_id("progress-summary").inner_text()
    assert "Left hip flexion stronger: 3/5 -> 4/5." in summary
    assert re.search(r"Lower Extremity Functional Scale: 38 -> 57 \(better; change that matters\)", summary)
    assert page.locator("#chart-strength").is_visible() and page.locator("#chart-lefs").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#progress").screenshot(path=str(SCREENSHOTS / "patient-progress.png"))
    assert (SCREENSHOTS / "patient-progress.png").stat().st_size > 10_000


def test_the_front_desk_never_sees_the_chart_or_the_assessment_link(page, frontdesk, patient_with_baseline):
    sign_in(page, "frontdesk", lands_on="**/desk/")

    page.goto(f"/admin/patients/patient/{patient_with_baseline.pk}/change/")

    assert page.get_by_role("heading", name="Change patient").is_visible()
    assert page.locator("#progress").count() == 0
    assert page.get_by_role("link", name="Record an assessment").count() == 0
