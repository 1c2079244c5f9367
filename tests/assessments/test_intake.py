"""Patient intake: a signed link to NPRS, LEFS and PSFS before the first assessment, answered once."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from apps.assessments import intake
from apps.assessments.models import Assessment, IntakeInvitation, OutcomeMeasure, OutcomeSource
from apps.assessments.scoring import lefs
from apps.notifications.models import OutboxEmail
from apps.notifications.services import unsubscribe_token
from apps.patients.models import Patient
from tests.factories import PatientFactory

pytestmark = [pytest.mark.django_db]

FULL_LEFS = [3] * 20  # total 60


@pytest.fixture
def invitation(patient, therapist):
    return intake.send_intake_invitation(patient=patient, sent_by=therapist)


def link_path(invitation: IntakeInvitation) -> str:
    email = OutboxEmail.objects.get(key=f"intake-invitation:{invitation.pk}")
    return re.search(r"http://[^/\s]+(/intake/[^/\s]+/)", email.body_text).group(1)


def answers(*, nprs=None, lefs_items=(), psfs=()) -> dict:
    data = {}
    if nprs is not None:
        data["nprs"] = str(nprs)
    for number, value in enumerate(lefs_items, start=1):
        if value is not None:
            data[f"lefs_{number}"] = str(value)
    for number, (name, score) in enumerate(psfs, start=1):
        data[f"psfs_activity_{number}"] = name
        data[f"psfs_score_{number}"] = "" if score is None else str(score)
    return data


def error_next_to(response, field: str) -> str:
    """The text of the error shown right under ``field`` (its element id is ``<field>-error``)."""
    match = re.search(rf'id="{field}-error">([^<]*)<', response.content.decode())
    assert match, f"no error shown next to {field}"
    return match.group(1)


# ---------------------------------------------------------------------------- sending


def test_sending_queues_one_email_with_the_link_and_a_subject_without_personal_data(patient, therapist, settings):
    invitation = intake.send_intake_invitation(patient=patient, sent_by=therapist)

    email = OutboxEmail.objects.get(kind="intake-invitation")
    assert email.key == f"intake-invitation:{invitation.pk}"
    assert email.patient == patient and email.to_email == "pat@example.org"
    assert email.subject == "A few questions before your first visit"
    assert "Pat" not in email.subject and "Example" not in email.subject
    # The token carries its signing time, so compare what the links open rather than their text.
    link = re.compile(re.escape(settings.SITE_URL) + r"/intake/([^/\s\"]+)/")
    for body in (email.body_text, email.body_html):
        assert intake.invitation_from_token(link.search(body).group(1)) == invitation
    assert "List-Unsubscribe" in email.headers
    expected_expiry = timezone.now() + timedelta(days=14)  # the clinic's default
    assert abs(invitation.expires_at - expected_expiry) < timedelta(minutes=1)
    assert invitation.created_by == therapist and invitation.is_open


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"archived_at": timezone.now()}, "archived"),
        ({"email": ""}, "no e-mail address"),
        ({"email_consent": False}, "not agreed to receive e-mail"),
    ],
)
def test_sending_is_refused_with_the_reason(therapist, change, reason):
    patient = PatientFactory(**change)

    with pytest.raises(ValidationError, match=reason):
        intake.send_intake_invitation(patient=patient, sent_by=therapist)

    assert not IntakeInvitation.objects.exists() and not OutboxEmail.objects.exists()


def test_sending_is_refused_once_the_patient_has_been_assessed(patient, therapist):
    Assessment.objects.create(patient=patient, therapist=therapist)

    with pytest.raises(ValidationError, match="already been assessed"):
        intake.send_intake_invitation(patient=patient, sent_by=therapist)

    assert not IntakeInvitation.objects.exists() and not OutboxEmail.objects.exists()


def test_sending_again_revokes_the_earlier_link(patient, therapist, client):
    first = intake.send_intake_invitation(patient=patient, sent_by=therapist)
    first_link = link_path(first)

    second = intake.send_intake_invitation(patient=patient, sent_by=therapist)

    first.refresh_from_db()
    assert first.revoked_at is not None and not first.is_open
    assert second.is_open
    assert OutboxEmail.objects.filter(kind="intake-invitation").count() == 2
    response = client.get(first_link)
    assert response.status_code == 410
    assert "replaced" in response.content.decode()


# ---------------------------------------------------------------------------- the page


def test_the_page_opens_without_signing_in_and_labels_every_answer(invitation, client):
    response = client.get(link_path(invitation))

    assert response.status_code == 200
    html = response.content.decode()
    assert "csrfmiddlewaretoken" in html
    for label in lefs.ITEM_LABELS:
        assert label in html
    for words in lefs.SCALE_LABELS.values():
        assert words in html
    # One fieldset with a legend per question: NPRS, 20 LEFS items, 5 PSFS rows.
    assert html.count("<fieldset") == 1 + 20 + 5
    assert html.count("<legend") == html.count("<fieldset")
    # Every input has a label pointing at it.
    ids = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', html)
    assert len(ids) == 11 + 20 * 5 + 5 * 2
    for input_id in ids:
        assert f'for="{input_id}"' in html
    assert 'name="viewport"' in html  # usable on a phone (base.html)
    assert invitation.patient.last_name not in html  # nothing about the patient on a page anyone holding the link sees


def test_a_full_submission_saves_three_patient_reported_measures_with_their_scores(invitation, patient, client):
    data = answers(nprs=6, lefs_items=FULL_LEFS, psfs=[("Climbing stairs", 4), ("Getting out of a car", 7)])

    response = client.post(link_path(invitation), data)

    assert response.status_code == 302
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200 and "Thank you" in thanks.content.decode()
    measures = {m.measure: m for m in OutcomeMeasure.objects.filter(patient=patient)}
    assert set(measures) == {"nprs", "lefs", "psfs"}
    assert all(m.source == OutcomeSource.PATIENT and m.recorded_by is None for m in measures.values())
    assert measures["nprs"].score == Decimal("6.0") and measures["nprs"].complete
    assert measures["lefs"].score == Decimal("60.0") and measures["lefs"].complete
    assert measures["psfs"].score == Decimal("5.5")
    assert measures["psfs"].items == [["Climbing stairs", 4], ["Getting out of a car", 7]]
    invitation.refresh_from_db()
    assert invitation.completed_at is not None and not invitation.is_open


def test_a_partly_filled_lefs_is_saved_incomplete_without_a_total(invitation, patient, client):
    partial = [4] * 17 + [None] * 3

    response = client.post(link_path(invitation), answers(lefs_items=partial))

    assert response.status_code == 302
    (measure,) = OutcomeMeasure.objects.filter(patient=patient)
    assert measure.measure == "lefs" and measure.items == partial
    assert measure.complete is False and measure.score is None and measure.missing_items == 3


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"nprs": "11"}, "nprs", "Choose one of the answers shown."),
        ({"nprs": "-1"}, "nprs", "Choose one of the answers shown."),
        ({"lefs_3": "9"}, "lefs_3", "Choose one of the answers shown."),
        ({"lefs_3": "2.5"}, "lefs_3", "Choose one of the answers shown."),
        ({"psfs_activity_1": "Gardening", "psfs_score_1": "12"}, "psfs_score_1", "Choose a score from 0 to 10."),
        ({"psfs_activity_1": "Gardening", "psfs_score_1": ""}, "psfs_score_1", "Give this activity a score"),
        ({"psfs_activity_2": "", "psfs_score_2": "5"}, "psfs_activity_2", "Name the activity you scored."),
        ({"psfs_activity_1": "x" * 101, "psfs_score_1": "5"}, "psfs_activity_1", "at most 100 characters"),
        ({"psfs_activity_1": "Garden\x00ing", "psfs_score_1": "5"}, "psfs_activity_1", "Null characters"),
    ],
)
def test_bad_values_are_shown_next_to_the_field_and_nothing_is_saved(invitation, client, data, field, message):
    # A good answer beside the bad one must not be saved on its own either.
    response = client.post(link_path(invitation), {"nprs": "4", **data})

    assert response.status_code == 400
    assert message in error_next_to(response, field)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not OutcomeMeasure.objects.exists()
    invitation.refresh_from_db()
    assert invitation.is_open


def test_sending_nothing_is_refused_with_a_message(invitation, client):
    response = client.post(link_path(invitation), {})

    assert response.status_code == 400
    assert "Answer at least one question" in response.content.decode()
    assert not OutcomeMeasure.objects.exists()
    invitation.refresh_from_db()
    assert invitation.is_open


# ---------------------------------------------------------------------------- links that no longer work


def test_a_used_link_is_refused_on_the_second_submission(invitation, client):
    path = link_path(invitation)
    assert client.post(path, answers(nprs=5)).status_code == 302

    again = client.post(path, answers(nprs=1, lefs_items=FULL_LEFS))

    assert again.status_code == 410
    assert "already have your answers" in again.content.decode()
    assert list(OutcomeMeasure.objects.values_list("measure", "score")) == [("nprs", Decimal("5.0"))]
    assert client.get(path).status_code == 410


def test_an_expired_link_is_refused(invitation, client):
    path = link_path(invitation)

    with time_machine.travel(timezone.now() + timedelta(days=14, minutes=1), tick=False):
        page = client.get(path)
        post = client.post(path, answers(nprs=5))

    assert page.status_code == 410 and "expired" in page.content.decode()
    assert post.status_code == 410
    assert not OutcomeMeasure.objects.exists()


def test_a_revoked_link_is_refused(invitation, client):
    path = link_path(invitation)
    IntakeInvitation.objects.filter(pk=invitation.pk).update(revoked_at=timezone.now())

    assert client.get(path).status_code == 410
    assert client.post(path, answers(nprs=5)).status_code == 410
    assert not OutcomeMeasure.objects.exists()


def test_a_link_stops_working_when_the_patient_is_archived(invitation, patient, client):
    path = link_path(invitation)
    Patient.objects.filter(pk=patient.pk).update(archived_at=timezone.now())

    assert client.post(path, answers(nprs=5)).status_code == 410
    assert not OutcomeMeasure.objects.exists()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "x" + token,  # payload changed
        lambda token: "not-a-token",
        lambda token: signing.dumps({"intake": 1, "patient": 1}, salt="another-salt"),
    ],
    ids=["signature", "payload", "garbage", "other-salt"],
)
def test_a_tampered_link_gets_a_clear_page_not_an_error(invitation, client, tamper):
    token = intake.intake_token(invitation)
    path = f"/intake/{tamper(token)}/"

    page = client.get(path)
    post = client.post(path, answers(nprs=5))

    assert page.status_code == 404 and "This link does not work" in page.content.decode()
    assert post.status_code == 404
    assert intake.invitation_from_token(tamper(token)) is None
    assert not OutcomeMeasure.objects.exists()


def test_an_unsubscribe_token_does_not_open_the_questionnaire(invitation, patient, client):
    response = client.get(f"/intake/{unsubscribe_token(patient)}/")

    assert response.status_code == 404


# ---------------------------------------------------------------------------- one patient only


def test_one_patients_link_never_shows_or_writes_another_patients_data(invitation, patient, therapist, client):
    other = PatientFactory(first_name="Barnaby", last_name="Oxenholme")
    other_invitation = intake.send_intake_invitation(patient=other, sent_by=therapist)
    OutcomeMeasure.objects.create(patient=other, measure="nprs", items=[9], recorded_by=therapist)

    page = client.get(link_path(invitation)).content.decode()
    assert "Barnaby" not in page and "Oxenholme" not in page and 'value="9" checked' not in page

    # Fields naming another patient or invitation are ignored: the link alone decides.
    response = client.post(link_path(invitation), {**answers(nprs=2), "patient": other.pk,
                                                   "invitation": other_invitation.pk})

    assert response.status_code == 302
    assert list(OutcomeMeasure.objects.filter(source="patient").values_list("patient_id", flat=True)) == [patient.pk]
    other_invitation.refresh_from_db()
    assert other_invitation.is_open
    # A token pairing this invitation with the other patient (as if forged) opens nothing.
    crossed = signing.dumps({"intake": invitation.pk, "patient": other.pk}, salt=intake.INTAKE_SALT)
    assert intake.invitation_from_token(crossed) is None


# ---------------------------------------------------------------------------- the service directly


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nprs": None, "lefs": [], "psfs": []}, "Answer at least one question"),
        ({"nprs": None, "lefs": [4] * 19, "psfs": []}, "Give 20 answers"),
        ({"nprs": "5", "lefs": [], "psfs": []}, "not a whole number"),
        ({"nprs": 11, "lefs": [], "psfs": []}, "outside 0-10"),
        ({"nprs": None, "lefs": [5] + [None] * 19, "psfs": []}, "outside 0-4"),
        ({"nprs": 3, "lefs": [], "psfs": [("Gar\x00den", 5)]}, "plain characters"),
        ({"nprs": 3, "lefs": [], "psfs": [("", 5)]}, "name the activity"),
        ({"nprs": 3, "lefs": [], "psfs": [("Walking", 5)] * 6}, "at most 5"),
    ],
)
def test_submit_intake_refuses_bad_answers_and_writes_nothing(invitation, kwargs, message):
    with pytest.raises(ValidationError, match=message):
        intake.submit_intake(invitation=invitation, **kwargs)

    assert not OutcomeMeasure.objects.exists()
    invitation.refresh_from_db()
    assert invitation.completed_at is None


def test_submit_intake_refuses_a_closed_invitation(invitation):
    intake.submit_intake(invitation=invitation, nprs=3, lefs=[], psfs=[])

    with pytest.raises(intake.IntakeClosed):
        intake.submit_intake(invitation=invitation, nprs=4, lefs=[], psfs=[])

    assert OutcomeMeasure.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_the_same_instant_save_one_set_of_answers(therapist):
    invitation = intake.send_intake_invitation(patient=PatientFactory(), sent_by=therapist)
    barrier, outcomes = threading.Barrier(2), []

    def submit(pain: int) -> None:
        try:
            barrier.wait(timeout=10)
            intake.submit_intake(invitation=IntakeInvitation.objects.get(pk=invitation.pk), nprs=pain, lefs=[],
                                 psfs=[])
            outcomes.append("saved")
        except intake.IntakeClosed:
            outcomes.append("closed")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(pain,)) for pain in (3, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["closed", "saved"]
    assert OutcomeMeasure.objects.filter(patient=invitation.patient).count() == 1


# ---------------------------------------------------------------------------- admin action


class _ModelAdminStub:
    def message_user(self, request, message, level):
        from django.contrib import messages

        messages.add_message(request, level, message)


def _admin_request(user):
    request = RequestFactory().post("/admin/patients/patient/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_the_admin_action_sends_to_each_patient_and_lists_refusals(therapist):
    ready = PatientFactory()
    no_consent = PatientFactory(email_consent=False)
    request = _admin_request(therapist)

    intake.send_intake_action(_ModelAdminStub(), request, Patient.objects.filter(pk__in=[ready.pk, no_consent.pk]))

    assert list(IntakeInvitation.objects.values_list("patient_id", flat=True)) == [ready.pk]
    shown = [str(message) for message in get_messages(request)]
    assert "Intake questionnaire sent to 1 patient." in shown
    assert any("not agreed to receive e-mail" in message for message in shown)


def test_the_admin_action_needs_the_therapists_permission(frontdesk):
    request = _admin_request(frontdesk)

    intake.send_intake_action(_ModelAdminStub(), request, Patient.objects.filter(pk=PatientFactory().pk))

    assert not IntakeInvitation.objects.exists()
    assert [str(m) for m in get_messages(request)] == ["You do not have permission to send intake questionnaires."]
