"""From a signed note to a settled bill, in a real browser (Chromium).

The therapist signs the visit's note with their password and authenticator code and finds its
charge in the admin; the front desk opens the patient's billing page, sees the charge, invoices
the visit, takes the payment at the desk and sees the balance at zero.
"""

import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from apps.billing.models import BillingCode, Charge, FeeScheduleEntry, Invoice, Payer
from apps.visits import services as visit_services
from tests.conftest import PASSWORD, authenticator_for, one_time_code, sign_in
from tests.factories import AppointmentFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_afresh(page, username: str, lands_on: str) -> None:
    page.context.clear_cookies()  # another person at the screen
    sign_in(page, username, lands_on=lands_on)


def test_a_signed_note_is_charged_invoiced_and_paid_at_the_desk(page, frontdesk, therapist, patient):
    self_pay = Payer.objects.get(kind="self_pay")
    for code in BillingCode.objects.all():
        FeeScheduleEntry.objects.create(payer=self_pay, code=code, effective_from=date(2020, 1, 1),
                                        price=Decimal("40.00"))
    rota = TherapistFactory(user=therapist, display_name="Theo Therapist")
    visit_services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=2,
                               duration_weeks=6, diagnoses=[("M62.81", "")], started_on=date(2020, 1, 1))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    visit = AppointmentFactory(patient=patient, therapist=rota, status="completed", start=start,
                               end=start + timedelta(minutes=60))  # room for the 47 minutes of the worked example
    note = visit_services.start_note(appointment=visit, author=therapist)
    visit_services.save_note(note=note, edited_by=therapist, treatment_minutes=[
        {"code": "97112", "minutes": 24}, {"code": "97110", "minutes": 23}])
    authenticator = authenticator_for(therapist)

    # The therapist signs the note: the password again and the authenticator's code.
    sign_in(page, "therapist", lands_on="**/admin/")
    page.goto(f"/admin/visits/visitnote/{note.pk}/change/")
    page.get_by_role("link", name="Sign and lock…").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("One-time code").fill(one_time_code(authenticator))
    page.get_by_role("button", name="Sign and lock").click()
    page.wait_for_url(re.compile(r"/admin/visits/visitnote/\d+/change/$"))

    # Its charge, by the 8-minute rule: 47 minutes, 3 units (2 x 97112, 1 x 97110).
    page.goto("/admin/billing/charge/")
    assert page.get_by_text("97110 x1, 97112 x2").or_(page.get_by_text("97112 x2, 97110 x1")).is_visible()
    charge = Charge.objects.get(note=note)
    assert charge.total == Decimal("120.00")

    # The front desk opens the patient's billing page from their desk page.
    sign_in_afresh(page, "frontdesk", lands_on="**/desk/")
    page.goto(f"/desk/patients/{patient.pk}/")
    page.get_by_role("link", name="Billing").click()
    page.wait_for_url(f"**/billing/patients/{patient.pk}/")
    charges = page.get_by_role("table", name="Charges from signed visit notes")
    assert "97112 \N{MULTIPLICATION SIGN} 2" in charges.inner_text() and "Not invoiced" in charges.inner_text()
    assert "M62.81" not in page.content()  # the desk never sees diagnoses

    # The superbill of the visit, as the desk prints it: the form's own request, the PDF's text checked.
    superbill = page.get_by_role("form", name="Superbill")
    assert superbill.get_by_label("From").input_value() == charge.date_of_service.isoformat()
    response = page.context.request.post(f"/billing/patients/{patient.pk}/superbill/", form={
        "csrfmiddlewaretoken": superbill.locator("input[name=csrfmiddlewaretoken]").get_attribute("value"),
        "start": superbill.get_by_label("From").input_value(), "end": superbill.get_by_label("To").input_value(),
        "pdf": ""})
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages).split())
    assert "97112" in text and "M62.81" in text and "120.00" in text and patient.record_number in text

    # An invoice for the visit.
    page.get_by_label(re.compile(r"97112 x2, 97110 x1, 120\.00 USD")).check()
    page.get_by_role("button", name="Create invoice").click()
    page.wait_for_url(f"**/billing/patients/{patient.pk}/")
    invoice = Invoice.objects.get()
    assert page.get_by_text(f"Invoice {invoice.number} for 120.00 USD is made.").is_visible()
    assert page.get_by_test_id("balance").inner_text() == "Balance: 120.00 USD owed"

    # Too much is refused next to the amount; the right amount settles the bill.
    page.get_by_label("Amount").fill("150.00")
    page.get_by_label("Method").select_option(label="Card")
    page.get_by_label("For invoice").select_option(label=str(invoice))
    page.get_by_role("button", name="Record payment").click()
    assert page.get_by_text(re.compile(r"More than the balance")).is_visible()
    page.get_by_label("Amount").fill("120.00")
    page.get_by_role("button", name="Record payment").click()
    page.wait_for_url(f"**/billing/patients/{patient.pk}/")
    assert page.get_by_text("Recorded 120.00 USD (Card).").is_visible()
    assert page.get_by_test_id("balance").inner_text() == "Balance: 0.00 USD owed"
    invoice.refresh_from_db()
    assert invoice.status == "paid"
