"""No personal data in log lines or e-mail subjects, along a whole patient journey.

Lock screens show subjects and log lines travel to places health data must not go, so
a patient's name, e-mail, phone, birth date and signed links must appear in neither.
Everything is captured at INFO, the level production writes.
"""

import logging
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.assessments import intake
from apps.notifications import reminders
from apps.notifications.models import OutboxEmail
from apps.notifications.services import dispatch_due
from apps.patients.models import Patient
from apps.scheduling.selectors import clinic_zone
from tests.conftest import signed_in
from tests.desk.test_patients import registration
from tests.factories import TherapistFactory
from tests.followups.test_logging import done, form_data, log_url, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]

PERSON = {"first_name": "Zebulon", "last_name": "Quixotic", "email": "zebulon.q@example.org",
          "phone": "+442079460987", "date_of_birth": "1961-07-29"}


def next_weekday_at_ten() -> datetime:
    """10:00 in the clinic (inside the therapist's Monday-Friday rota) on the next weekday after tomorrow."""
    day = timezone.localdate() + timedelta(days=2)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=clinic_zone())


def test_a_patients_journey_leaves_no_personal_data_in_logs_or_subjects(
    client, frontdesk, therapist, smtp_server, caplog, django_capture_on_commit_callbacks, prescribe
):
    caplog.set_level(logging.INFO)
    physio = TherapistFactory(user=therapist)
    with django_capture_on_commit_callbacks(execute=True):
        # The front desk registers, finds and books the patient.
        desk = signed_in(Client(), frontdesk)
        assert desk.post("/desk/patients/new/", registration(**PERSON)).status_code == 302
        patient = Patient.objects.get(email=PERSON["email"])
        assert desk.get(f"/desk/patients/?q={PERSON['last_name']}").status_code == 200
        api = Client(headers={"Authorization": f"Token {Token.objects.create(user=frontdesk)}"})
        start = next_weekday_at_ten()
        booked = api.post("/api/v1/appointments/", {"patient": patient.pk, "therapist": physio.pk,
                                                     "kind": "initial_assessment", "start": start.isoformat()},
                          content_type="application/json")
        assert booked.status_code == 201, booked.content
        # The therapist reads the record, invites an intake, prescribes and shares the link.
        clinician = signed_in(Client(), therapist)
        assert clinician.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
        assert clinician.get(f"/admin/patients/patient/{patient.pk}/change/").status_code == 200
        intake.send_intake_invitation(patient=patient, sent_by=therapist)
        program = prescribe(patient, therapist, "seated-knee-raise")
        token = token_for(patient, therapist)
        # The patient logs a painful session, mistypes once, and someone tries a forged post and a bad link.
        assert client.get(log_url(token)).status_code == 200
        assert client.post(log_url(token), form_data(program, {"sets_done": "lots"})).status_code == 400
        assert client.post(log_url(token), form_data(program, done(pain=8))).status_code == 302
        assert Client(enforce_csrf_checks=True).post(log_url(token), {}).status_code == 403
        assert client.get(log_url(token[:-3] + "abc")).status_code == 404
        # Staff reset a password; the scans and the sweep send what is due.
        assert client.post("/accounts/password-reset/", {"email": frontdesk.email}).status_code == 302
        # Half a day before the appointment: its reminder is due then, whatever day it is now
        # (a fixed "in a day and a half" missed an appointment booked over a weekend).
        reminders.run_due_scans(start - timedelta(hours=12))
        dispatch_due()

    subjects = list(OutboxEmail.objects.values_list("subject", flat=True))
    subjects += [message["Subject"] for message in smtp_server.messages]
    kinds = set(OutboxEmail.objects.values_list("kind", flat=True))
    assert {"booking-confirmation", "intake-invitation", "therapist-alert", "appointment-reminder"} <= kinds, kinds
    assert any("password" in subject.lower() for subject in subjects)  # the staff reset went out too
    as_written = logging.Formatter("%(name)s %(message)s")  # with exception texts, if any
    ours = [record for record in caplog.records if record.name != "mail.log"]  # mail.log: the test's SMTP server
    lines = [as_written.format(record) for record in ours]
    secrets = [*PERSON.values(), token, patient.phone.as_national]
    for secret in filter(None, secrets):
        for line in lines + subjects:
            assert secret.lower() not in line.lower(), f"{secret!r} in {line!r}"
    assert any("Forbidden (CSRF cookie not set.): /p/<str:token>/log/" in line for line in lines), lines
