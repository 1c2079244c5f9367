"""A visit from booking to a signed, corrected note and its PDF, in a real browser (Chromium).

The front desk books the patient's next follow-up, checks them in and out; the therapist
starts the note from their day page, finds it pre-filled from the patient's home logs,
signs it with their password and authenticator code, adds an addendum the same way and
opens the PDF. The live server runs in this process, so the test moves its clock to the
visit (``time_machine``) and every code it types is the one the authenticator shows then.
"""

import io
import re
from datetime import time, timedelta

import pytest
import time_machine
from pypdf import PdfReader

from apps.scheduling.models import Appointment, AppointmentStatus
from apps.visits import services as visit_services
from apps.visits.models import NoteStatus, VisitNote
from hipclinic.zones import clinic_today
from tests.conftest import PASSWORD, authenticator_for, one_time_code, sign_in
from tests.factories import SessionLogFactory, TherapistFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_afresh(page, username: str, lands_on: str) -> None:
    page.context.clear_cookies()  # the clock jumped: a new sign-in, as a person coming back to the desk would
    sign_in(page, username, lands_on=lands_on)


def test_a_visit_is_booked_written_up_signed_corrected_and_printed(page, frontdesk, therapist, patient, prescribe):
    # Working every day, all day: the next free slot is minutes away whatever the hour the test runs.
    TherapistFactory(user=therapist, display_name="Theo Therapist",
                     hours=[(day, time(0), time(23, 45)) for day in range(7)])
    program = prescribe(patient, therapist, "seated-knee-raise")
    SessionLogFactory(program=program, pain_during=2, session_date=patient.today() - timedelta(days=2))
    SessionLogFactory(program=program, pain_during=4, session_date=patient.today() - timedelta(days=1))
    visit_services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=2,
                               duration_weeks=6, diagnoses=[("M62.81", "")], program=program,
                               started_on=clinic_today() - timedelta(days=14))
    authenticator = authenticator_for(therapist)

    # The front desk books the next follow-up.
    sign_in(page, "frontdesk", lands_on="**/desk/")
    page.goto(f"/desk/patients/{patient.pk}/")
    page.get_by_role("link", name="Book an appointment").click()
    search = page.get_by_role("form", name="Find free slots")
    search.get_by_label("Appointment kind").select_option(label="Follow-up")
    search.get_by_role("button", name="Find free slots").click()
    page.get_by_role("button", name=re.compile(r"^Book Follow-up on .* with Theo Therapist$")).first.click()
    page.wait_for_url(f"**/desk/patients/{patient.pk}/")
    appointment = Appointment.objects.get(patient=patient)

    with time_machine.travel(appointment.start + timedelta(minutes=5), tick=True):
        # The patient arrives and, after the visit, leaves.
        sign_in_afresh(page, "frontdesk", lands_on="**/desk/")
        page.goto(f"/desk/patients/{patient.pk}/")
        page.get_by_role("button", name=re.compile(r"^Check in Pat Example")).click()
        page.get_by_role("button", name=re.compile(r"^Check out Pat Example")).click()
        page.wait_for_url(f"**/desk/patients/{patient.pk}/")
        appointment.refresh_from_db()
        assert appointment.status == AppointmentStatus.COMPLETED

        # The therapist starts the note from the day page: it arrives pre-filled from the logs.
        sign_in_afresh(page, "therapist", lands_on="**/admin/")
        page.goto("/chart/day/")
        page.get_by_role("link", name="Start the note").click()
        page.get_by_role("button", name="Start the note").click()
        page.wait_for_url(re.compile(r"/admin/visits/visitnote/\d+/change/$"))
        subjective = page.get_by_label("Subjective").input_value()
        assert "2 sessions logged" in subjective and "Pain during exercise: 2-4/10" in subjective
        assert "Seated knee raise" in page.locator("#id_plan").input_value()
        page.get_by_label("Subjective").fill(subjective + "Stairs a little easier this week.")
        page.get_by_label("Treatment minutes").fill("97110 16\n97112 14")  # 30 minutes: the whole follow-up
        page.get_by_role("button", name="Save and continue editing").click()

        # Sign: the password again and the authenticator's code; a wrong password first.
        page.get_by_role("link", name="Sign and lock…").click()
        page.get_by_label("Password").fill("not my password")
        page.get_by_label("One-time code").fill(one_time_code(authenticator))
        page.get_by_role("button", name="Sign and lock").click()
        assert page.get_by_text("That is not your password").is_visible()
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("One-time code").fill(one_time_code(authenticator))
        page.get_by_role("button", name="Sign and lock").click()
        page.wait_for_url(re.compile(r"/admin/visits/visitnote/\d+/change/$"))
        note = VisitNote.objects.get(appointment=appointment)
        assert note.status == NoteStatus.SIGNED and "Stairs a little easier" in note.subjective
        assert page.get_by_label("Subjective").count() == 0  # read-only now

        # A correction is an addendum, signed the same way, shown after the note.
        page.get_by_role("link", name="Add an addendum…").click()
        page.get_by_label("Reason").fill("Late entry")
        page.get_by_label("Text").fill("Heat pack to the left hip for 10 minutes before exercise.")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("One-time code").fill(one_time_code(authenticator))
        page.get_by_role("button", name="Sign the addendum").click()
        page.wait_for_url(re.compile(r"/admin/visits/visitnote/\d+/change/$"))
        assert page.get_by_text("Heat pack to the left hip").is_visible()

        # The PDF, with the signature, the addendum and the content hash.
        pdf_link = page.get_by_role("link", name="PDF", exact=True)
        response = page.context.request.get(pdf_link.get_attribute("href"))
        assert response.ok and response.headers["content-type"] == "application/pdf"
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages)
        text = " ".join(text.split())
        assert "Heat pack to the left hip" in text and note.content_hash[:16] in text.replace(" ", "")
