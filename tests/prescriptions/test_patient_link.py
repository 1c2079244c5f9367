"""The patient's signed link to their current program, and the staff's printable handout."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.utils import timezone

from apps.prescriptions import services
from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramStatus
from tests.factories import ReferralFactory

pytestmark = pytest.mark.django_db

INVALID = "This link does not work any more"


def items(*rows: tuple[str, int]) -> list[ProgramItem]:
    chosen = []
    for slug, sets in rows:
        exercise = Exercise.objects.get(slug=slug)
        chosen.append(ProgramItem(exercise=exercise, sets=sets, dose_low=exercise.default_dose_low,
                                  dose_high=exercise.default_dose_high))
    return chosen


def link_path(patient, therapist, days: int = 90) -> str:
    link = services.create_patient_link(patient=patient, by=therapist, days=days)
    return urlsplit(services.patient_link_url(link)).path


@pytest.fixture
def other_patient(db):
    return ReferralFactory(cause="prolonged_sitting").patient


def invalid(response) -> bool:
    return response.status_code == 404 and INVALID in response.content.decode()


# ---------------------------------------------------------------------------- the patient's page


def test_the_link_shows_the_current_program_with_instructions_and_dose_on_a_phone(
        client, patient, therapist, prescribe):
    prescribe(patient, therapist, ("wall-psoas-hold", 3), ("seated-knee-raise", 2), goals="Climb the stairs")
    hold = Exercise.objects.get(slug="wall-psoas-hold")

    response = client.get(link_path(patient, therapist))

    page = response.content.decode()
    assert response.status_code == 200
    assert hold.name in page and "3 sets of 20-30 seconds&#x27; hold on each side" in page
    assert all(step.replace("'", "&#x27;") in page for step in hold.instructions)
    assert "Climb the stairs" in page
    assert 'name="viewport" content="width=device-width' in page
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_after_an_edit_the_link_shows_the_new_dose_only(client, patient, therapist, prescribe):
    program = prescribe(patient, therapist, ("seated-knee-raise", 2))
    path = link_path(patient, therapist)
    before = client.get(path).content.decode()

    services.save_program(program=program, items=items(("seated-knee-raise", 3)), by=therapist)
    after = client.get(path).content.decode()

    assert "2 sets of 10-15 repetitions" in before
    assert "3 sets of 10-15 repetitions" in after and "2 sets of 10-15 repetitions" not in after
    assert program.versions.count() == 2


def test_a_newer_active_program_replaces_the_old_one_on_the_link(client, patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    newer = prescribe(patient, therapist, ("standing-march", 3))

    page = client.get(link_path(patient, therapist)).content.decode()

    assert Exercise.objects.get(slug="standing-march").name in page
    assert Exercise.objects.get(slug="seated-knee-raise").name not in page
    assert Program.objects.active().get() == newer


def test_without_an_active_program_the_link_says_so(client, patient, therapist):
    services.save_program(program=Program(patient=patient, therapist=therapist), items=items(("lunge", 2)),
                          by=therapist)  # a draft: not shown

    response = client.get(link_path(patient, therapist))

    assert response.status_code == 200 and "no active program" in response.content.decode()


# ---------------------------------------------------------------------------- links that do not work


def test_a_tampered_token_shows_the_invalid_page_and_no_patient_data(
        client, patient, other_patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    prescribe(other_patient, therapist, ("standing-march", 2))
    path = link_path(patient, therapist)
    token = path.rstrip("/").rsplit("/", 1)[1]
    # Another link's number under this link's signature, and a flipped character.
    other = services.create_patient_link(patient=other_patient, by=therapist)
    payload, signature = token.split(":", 1)
    forged = services.signing.dumps({"link": other.pk}, salt="another-salt")

    for bad in [token[:-1] + ("A" if token[-1] != "A" else "B"), f"{payload}x:{signature}", forged, "nonsense"]:
        response = client.get(f"/p/{bad}/")
        page = response.content.decode()
        assert invalid(response), bad
        assert patient.last_name not in page and other_patient.last_name not in page
        assert "repetitions" not in page


def test_an_expired_link_shows_the_invalid_page(client, patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    path = link_path(patient, therapist, days=30)

    with time_machine.travel(timezone.now() + timedelta(days=29), tick=False):
        assert client.get(path).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=30, minutes=1), tick=False):
        assert invalid(client.get(path))


def test_a_revoked_link_shows_the_invalid_page_and_a_new_link_replaces_it(client, patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    first = link_path(patient, therapist)
    second = link_path(patient, therapist)  # one working link at a time

    assert invalid(client.get(first))
    assert client.get(second).status_code == 200

    patient.program_links.update(revoked_at=timezone.now())
    assert invalid(client.get(second))


def test_the_link_of_an_archived_patient_shows_the_invalid_page(client, patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    path = link_path(patient, therapist)
    patient.archived_at = timezone.now()
    patient.save()

    assert invalid(client.get(path))


def test_a_link_shows_only_its_own_patients_program(client, patient, other_patient, therapist, prescribe):
    prescribe(patient, therapist, ("seated-knee-raise", 2))
    prescribe(other_patient, therapist, ("pike", 2))

    page = client.get(link_path(patient, therapist)).content.decode()

    assert Exercise.objects.get(slug="seated-knee-raise").name in page
    assert Exercise.objects.get(slug="pike").name not in page and other_patient.last_name not in page


# ---------------------------------------------------------------------------- the handout


def handout_url(program: Program) -> str:
    return f"/programs/{program.pk}/handout/"


def test_staff_who_may_view_programs_print_the_handout(client, patient, therapist, manager, prescribe):
    program = prescribe(patient, therapist, ("wall-psoas-hold", 2))

    for user in (therapist, manager):
        client.force_login(user)
        response = client.get(handout_url(program))
        page = response.content.decode()
        assert response.status_code == 200, user
        assert patient.record_number in page and "2 sets of 20-30 seconds&#x27; hold on each side" in page
        assert page.count("<th scope=\"row\">") == program.weeks  # one tick row per week


def test_the_front_desk_and_strangers_cannot_open_the_handout(client, patient, therapist, frontdesk, prescribe):
    program = prescribe(patient, therapist, ("seated-knee-raise", 2))

    anonymous = client.get(handout_url(program))
    client.force_login(frontdesk)
    desk = client.get(handout_url(program))

    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert desk.status_code == 403 and patient.record_number not in desk.content.decode()


def test_the_handout_of_an_unknown_program_is_404(client, therapist):
    client.force_login(therapist)

    assert client.get("/programs/999999/handout/").status_code == 404


def test_the_admin_action_creates_a_working_link(client, patient, therapist, prescribe):
    program = prescribe(patient, therapist, ("seated-knee-raise", 2))
    client.force_login(therapist)

    response = client.post("/admin/prescriptions/program/", {"action": "send_patient_link",
                                                             "_selected_action": [program.pk]}, follow=True)

    link = patient.program_links.get(revoked_at__isnull=True)  # the one sent on activation is replaced
    assert link.is_open and link.created_by == therapist
    path = re.search(r"href='[^']*(/p/[^']+/)'", response.content.decode()).group(1)
    client.logout()
    assert client.get(path).status_code == 200
    assert program.status == ProgramStatus.ACTIVE
