"""Activating a program e-mails the patient their program at once: its exercises, doses and their link."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from apps.notifications.models import OutboxEmail
from apps.prescriptions import services
from apps.prescriptions.models import Exercise, Program, ProgramItem

pytestmark = pytest.mark.django_db

# A Wednesday: 14:00 and 23:30 in London (GMT in December).
AFTERNOON = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)
NIGHT = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)


def draft(patient, therapist) -> Program:
    knee_raise, march = Exercise.objects.get(slug="seated-knee-raise"), Exercise.objects.get(slug="standing-march")
    return services.save_program(
        program=Program(patient=patient, therapist=therapist, weeks=6, sessions_per_week=3),
        items=[ProgramItem(exercise=knee_raise, sets=2, dose_low=10, dose_high=15, notes="Sit tall"),
               ProgramItem(exercise=march, sets=2, dose_low=8, dose_high=12)],
        by=therapist)


def home_program_emails():
    return list(OutboxEmail.objects.filter(kind="home-program").order_by("id"))


def test_activation_queues_one_email_with_the_program_its_doses_and_a_working_link(patient, therapist, client):
    with time_machine.travel(AFTERNOON, tick=False):
        services.activate_program(program=draft(patient, therapist), by=therapist)

    [email] = home_program_emails()
    assert (email.to_email, email.subject, email.send_after) == ("pat@example.org", "Your home exercise program",
                                                                 AFTERNOON)
    assert "Pat" not in email.subject
    body = email.body_text
    assert "3 sessions a week for 6 weeks" in body
    assert "1. Seated knee raise (seated march): 2 sets of 10-15 repetitions on each side (Sit tall)" in body
    assert "2. Standing march: 2 sets of 8-12 repetitions on each side" in body
    path = re.search(r"https?://[^/\s]+(/p/[^/\s]+/)", body).group(1)
    assert client.get(path).status_code == 200  # the link opens the program, no account needed
    assert "List-Unsubscribe" in email.headers


def test_at_night_the_email_waits_for_the_end_of_the_patients_quiet_hours(patient, therapist):
    with time_machine.travel(NIGHT, tick=False):
        services.activate_program(program=draft(patient, therapist), by=therapist)

    [email] = home_program_emails()
    assert email.send_after == datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 08:00 in London the next morning


def test_each_activation_sends_one_email_and_nothing_else_does(patient, therapist, api_client):
    program = draft(patient, therapist)
    api_client.force_authenticate(therapist)
    url = reverse("program-detail", args=[program.pk])

    with time_machine.travel(AFTERNOON, tick=True):
        assert api_client.post(url + "activate/").status_code == 200
        assert api_client.post(url + "activate/").status_code == 400  # already active: no second e-mail
        api_client.patch(url, {"goals": "Stairs"}, format="json")
        api_client.post(url + "pause/")
        assert api_client.post(url + "activate/").status_code == 200  # back from a pause: told again

    assert len(home_program_emails()) == 2


def test_a_patient_who_did_not_agree_to_email_gets_none(patient, therapist):
    patient.email_consent = False
    patient.save()

    services.activate_program(program=draft(patient, therapist), by=therapist)

    assert home_program_emails() == []


def test_the_admins_save_and_activate_emails_the_patient_too(patient, therapist, client):
    program = draft(patient, therapist)
    client.force_login(therapist)
    url = reverse("admin:prescriptions_program_changelist")

    client.post(url, {"action": "activate_program", "_selected_action": [program.pk]})

    assert len(home_program_emails()) == 1
