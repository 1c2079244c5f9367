"""The front desk in a real browser, by keyboard and labels: register with a referral, then book."""

import re
from datetime import time

import pytest

from apps.patients.models import Patient
from apps.scheduling.models import Appointment
from tests.conftest import PASSWORD
from tests.factories import TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.smtp
def test_the_front_desk_registers_a_referred_patient_and_books_an_initial_assessment(page, frontdesk, smtp_server):
    # Working all day, every day: the coming week always has free slots, whatever the hour
    # the test runs (the live server runs on the real clock).
    TherapistFactory(display_name="Tess Therapist", hours=[(day, time(0), time(23, 45)) for day in range(7)])

    page.goto("/desk/")
    page.get_by_label("Username").fill("frontdesk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").press("Enter")
    page.wait_for_url("**/desk/")

    page.get_by_role("link", name="Register a patient").press("Enter")
    page.get_by_label("First name").fill("Morgan")
    page.get_by_label("Last name").fill("Keyboard")
    page.get_by_label("Date of birth").fill("1962-03-14")
    page.get_by_label("Email", exact=True).fill("morgan@example.org")
    page.get_by_label("Consents to e-mail reminders").press("Space")
    page.get_by_label("Referral cause").select_option(label="Lateral transpsoas spine surgery")
    page.get_by_label("Referring clinician").fill("Dr Spine")
    page.get_by_role("button", name="Register patient").press("Enter")

    # The surgery date is required for this cause: the error is next to its field.
    surgery_date = page.get_by_label("Surgery date")
    assert surgery_date.get_attribute("aria-invalid") == "true"
    assert "Enter the surgery date" in page.locator("#id_surgery_date_error").inner_text()
    assert not Patient.objects.exists()
    surgery_date.fill("2020-01-15")
    surgery_date.press("Enter")  # submits the form from the field, as a person at a keyboard would

    page.wait_for_url(re.compile(r"/desk/patients/\d+/$"))
    patient = Patient.objects.get()
    assert page.get_by_role("heading", name=re.compile("Morgan Keyboard")).is_visible()
    assert page.get_by_text(f"Registered Morgan Keyboard as {patient.record_number}.").is_visible()

    page.get_by_role("link", name="Book an appointment").press("Enter")
    search = page.get_by_role("form", name="Find free slots")
    search.get_by_label("Appointment kind").select_option(label="Initial assessment")
    search.get_by_role("button", name="Find free slots").press("Enter")

    slot_buttons = page.get_by_role("button", name=re.compile(r"^Book Initial assessment on .* with Tess Therapist$"))
    first_slot = slot_buttons.first
    slot_name = first_slot.get_attribute("aria-label")
    first_slot.press("Enter")

    page.wait_for_url(f"**/desk/patients/{patient.pk}/")
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.kind.slug, appointment.booked_by) == (
        patient, "initial_assessment", frontdesk)
    assert page.get_by_text(re.compile(r"^Booked Initial assessment with Tess Therapist on ")).is_visible()
    row = page.get_by_test_id(f"appointment-{appointment.pk}")
    assert "Initial assessment" in row.inner_text() and "Booked" in row.inner_text()
    assert slot_name.split(" at ")[1].startswith(row.inner_text().split(", ")[1][:5])  # the time chosen

    # The booking's confirmation went through the outbox to the SMTP server, with its .ics.
    from icalendar import Calendar

    from tests.realparts import wait_for

    message = wait_for(lambda: next((m for m in smtp_server.messages if m["To"] == "morgan@example.org"), None),
                       message="the booking confirmation at the SMTP server")
    assert "Morgan" not in message["Subject"] and "assessment" not in message["Subject"].lower()
    ics = next(part for part in message.walk() if part.get_content_type() == "text/calendar")
    event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == appointment.start
