"""The patient logs sessions, and answers the next-morning question, through their signed link."""

import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apps.followups.models import LogSource, ProgressionProposal, ProposalStatus, SessionLog, SessionLogItem
from apps.followups.services import patient_today
from apps.prescriptions import services as prescriptions
from apps.prescriptions.models import Exercise, Program, ProgramItem
from tests.conftest import signed_in
from tests.factories import ReferralFactory

pytestmark = pytest.mark.django_db

INVALID = "This link does not work any more"


def prescribe(patient, therapist, *slugs: str, start: date | None = None) -> Program:
    """An active program at the exercises' default doses, started a week ago unless told.

    A week ago where the patient lives: their weeks and "today" are counted in their zone,
    which the clinic's date (CLINIC_TIME_ZONE) can be a day ahead of or behind.
    """
    patient_today = timezone.localdate(timezone=ZoneInfo(patient.time_zone))
    program = Program(patient=patient, therapist=therapist, start_date=start or patient_today - timedelta(days=7))
    rows = []
    for slug in slugs:
        exercise = Exercise.objects.get(slug=slug)
        rows.append(ProgramItem(exercise=exercise, sets=exercise.default_sets, dose_low=exercise.default_dose_low,
                                dose_high=exercise.default_dose_high))
    prescriptions.save_program(program=program, items=rows, by=therapist)
    return prescriptions.activate_program(program=program, by=therapist)


def token_for(patient, therapist, days: int = 90) -> str:
    link = prescriptions.create_patient_link(patient=patient, by=therapist, days=days)
    return urlsplit(prescriptions.patient_link_url(link)).path.split("/")[2]


def log_url(token: str) -> str:
    return reverse("followups:log", kwargs={"token": token})


def form_data(program, *rows: dict, day: date | None = None, key: str | None = None, **extra) -> dict:
    """The POST of the log form: one row per program item (blank unless given), in order."""
    items = list(program.items.all())
    data = {
        "session_date": (day or patient_today(program)).isoformat(), "effort": "about_right", "note": "",
        "submission_key": key or str(uuid.uuid4()),
        "items-TOTAL_FORMS": str(len(items)), "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": str(len(items)),
    }
    for n, item in enumerate(items):
        row = rows[n] if n < len(rows) else {}
        data[f"items-{n}-item"] = str(row.get("item", item.pk))
        for name in ("sets_done", "last_set_amount", "pain_during"):
            value = row.get(name, "")
            data[f"items-{n}-{name}"] = "" if value is None else str(value)
    data.update(extra)
    return data


def done(sets=2, amount=12, pain=1) -> dict:
    return {"sets_done": sets, "last_set_amount": amount, "pain_during": pain}


def invalid(response) -> bool:
    return response.status_code == 404 and INVALID in response.content.decode()


@pytest.fixture
def patient(db):
    return ReferralFactory(cause="prolonged_sitting").patient


@pytest.fixture
def program(patient, therapist):
    return prescribe(patient, therapist, "seated-knee-raise", "wall-psoas-hold")


@pytest.fixture
def token(patient, therapist, program):
    return token_for(patient, therapist)


# ---------------------------------------------------------------------------- the form


def test_the_form_has_one_fieldset_per_exercise_with_its_dose_and_today_in_the_patients_zone(client, program, token):
    response = client.get(log_url(token))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<legend") == 3  # two exercises and the effort question
    assert "Seated knee raise (seated march)" in page and "2 sets of 10-15 repetitions on each side" in page
    assert "Repetitions on the last set" in page and "Seconds held on the last set" in page
    assert f'value="{patient_today(program).isoformat()}"' in page
    assert 'name="submission_key"' in page
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_day_defaults_to_today_where_the_patient_lives(client, patient, therapist):
    patient.time_zone = "Pacific/Auckland"
    patient.save()
    with time_machine.travel(datetime(2025, 11, 10, 20, 0, tzinfo=UTC), tick=False):  # 11 Nov, 09:00 there
        program = prescribe(patient, therapist, "seated-knee-raise", start=date(2025, 11, 3))
        token = token_for(patient, therapist)
        assert 'value="2025-11-11"' in client.get(log_url(token)).content.decode()

        response = client.post(log_url(token), form_data(program, done(), day=date(2025, 11, 11)))

    assert response.status_code == 302
    assert SessionLog.objects.get().session_date == date(2025, 11, 11)


def test_a_logged_session_saves_its_rows_and_thanks_with_this_weeks_adherence(client, program, token):
    response = client.post(log_url(token), form_data(program, done(2, 14, 1), done(2, 25, 0), note="  Felt fine. "))

    log = SessionLog.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("followups:thanks", kwargs={"token": token, "log_id": log.pk})
    assert (log.program, log.session_date, log.effort, log.note, log.source) == (
        program, patient_today(program), "about_right", "Felt fine.", LogSource.PATIENT)
    assert sorted(log.items.values_list("exercise__slug", "sets_done", "last_set_amount", "pain_during")) == [
        ("seated-knee-raise", 2, 14, 1), ("wall-psoas-hold", 2, 25, 0)]

    thanks = client.get(response["Location"]).content.decode()
    assert "Thanks" in thanks and "This week (week 2): 1 of 3 sessions done." in thanks


def test_an_exercise_left_blank_is_not_logged(client, program, token):
    client.post(log_url(token), form_data(program, done()))

    assert list(SessionLogItem.objects.values_list("exercise__slug", flat=True)) == ["seated-knee-raise"]


def test_a_staff_member_signed_in_logs_an_in_clinic_session(client, program, token, therapist):
    signed_in(client, therapist).post(log_url(token), form_data(program, done()))

    assert SessionLog.objects.values_list("source", "logged_by").get() == (LogSource.CLINIC, therapist.pk)


# ---------------------------------------------------------------------------- bad input saves nothing


def refused(response, message: str) -> bool:
    page = response.content.decode()
    return (response.status_code == 400 and "Nothing was saved" in page and message.replace("'", "&#x27;") in page
            and not SessionLog.objects.exists() and not SessionLogItem.objects.exists())


def test_a_day_in_the_future_is_refused(client, program, token):
    tomorrow = patient_today(program) + timedelta(days=1)

    assert refused(client.post(log_url(token), form_data(program, done(), day=tomorrow)),
                   "This day has not happened yet.")


def test_a_day_before_the_program_started_is_refused(client, program, token):
    day = program.start_date - timedelta(days=1)

    assert refused(client.post(log_url(token), form_data(program, done(), day=day)),
                   "The program had not started on that day.")


def test_an_exercise_not_on_the_program_is_refused(client, program, token, patient, therapist):
    elsewhere = prescribe(ReferralFactory(cause="prolonged_sitting").patient, therapist, "supine-heel-slide")
    tampered = {**done(), "item": elsewhere.items.get().pk}

    assert refused(client.post(log_url(token), form_data(program, tampered)), "That exercise is not on this program.")


def test_one_exercise_twice_in_one_session_is_refused(client, program, token):
    first = program.items.first().pk

    assert refused(client.post(log_url(token), form_data(program, done(), {**done(), "item": first})),
                   "Each exercise can be logged once per session.")


def test_more_rows_than_exercises_are_refused(client, program, token):
    data = form_data(program, done(), done(), **{"items-TOTAL_FORMS": "3", "items-2-item": "1",
                                                  "items-2-sets_done": "2"})

    assert refused(client.post(log_url(token), data), "Please submit at most 2 forms.")


def test_nothing_done_is_refused(client, program, token):
    assert refused(client.post(log_url(token), form_data(program)), "Log at least one exercise.")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param({"pain_during": 11}, "Enter 10 or less.", id="pain 11"),
        pytest.param({"pain_during": -1}, "Enter 0 or more.", id="negative pain"),
        pytest.param({"sets_done": 99}, "Enter 10 or less.", id="99 sets"),
        pytest.param({"sets_done": -2}, "Enter 0 or more.", id="negative sets"),
        pytest.param({"last_set_amount": 100000}, "Enter 600 or less.", id="amount 100000"),
        pytest.param({"last_set_amount": "12.5"}, "Enter a whole number.", id="not a whole number"),
        pytest.param({"sets_done": None}, "Enter how many sets you did (0 if none).", id="results without sets"),
    ],
)
def test_negative_or_absurd_numbers_are_refused_next_to_the_field(client, program, token, row, message):
    response = client.post(log_url(token), form_data(program, {**done(), **row}))

    assert refused(response, message)
    assert 'aria-invalid="true"' in response.content.decode()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"effort": "exhausting"}, "Select a valid choice.", id="unknown effort"),
        pytest.param({"note": "x" * 501}, "Ensure this value has at most 500 characters", id="long note"),
        pytest.param({"note": "a\x00b"}, "Null characters are not allowed.", id="NUL in note"),
        pytest.param({"submission_key": ""}, "This form is out of date", id="no key"),
        pytest.param({"submission_key": "x"}, "This form is out of date", id="not a key"),
        pytest.param({"session_date": "31/02/2025"}, "Enter a date.", id="not a date"),
    ],
)
def test_malformed_fields_are_refused(client, program, token, extra, message):
    assert refused(client.post(log_url(token), form_data(program, done(), **extra)), message)


def test_the_same_form_sent_twice_saves_once(client, program, token):
    data = form_data(program, done())

    first = client.post(log_url(token), data)
    second = client.post(log_url(token), data)

    assert SessionLog.objects.count() == 1 and SessionLogItem.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_an_error_keeps_the_key_so_the_corrected_form_saves_once(client, program, token):
    data = form_data(program, {**done(), "pain_during": 11})
    page = client.post(log_url(token), data).content.decode()
    assert f'value="{data["submission_key"]}"' in page

    corrected = {**data, "items-0-pain_during": "3"}
    client.post(log_url(token), corrected)
    client.post(log_url(token), corrected)

    assert SessionLog.objects.get().items.get().pain_during == 3


# ---------------------------------------------------------------------------- the link


def test_a_tampered_link_is_refused(client, program, token):
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    assert invalid(client.get(log_url(tampered)))
    assert invalid(client.post(log_url(tampered), form_data(program, done())))
    assert not SessionLog.objects.exists()


def test_an_expired_link_is_refused(client, program, patient, therapist):
    token = token_for(patient, therapist, days=7)
    data = form_data(program, done())

    with time_machine.travel(datetime.now(UTC) + timedelta(days=8)):
        assert invalid(client.get(log_url(token)))
        assert invalid(client.post(log_url(token), data))
    assert not SessionLog.objects.exists()


def test_a_revoked_link_is_refused(client, program, patient, therapist, token):
    token_for(patient, therapist)  # a new link replaces the old one

    assert invalid(client.post(log_url(token), form_data(program, done())))
    assert not SessionLog.objects.exists()


def test_the_link_opens_its_own_patients_logs_only(client, program, token, therapist):
    other = ReferralFactory(cause="prolonged_sitting").patient
    other_program = prescribe(other, therapist, "seated-knee-raise")
    client.post(log_url(token_for(other, therapist)), form_data(other_program, done()))
    theirs = SessionLog.objects.get(program=other_program)

    for name in ("thanks", "morning"):
        response = client.get(reverse(f"followups:{name}", kwargs={"token": token, "log_id": theirs.pk}))
        assert response.status_code == 404
    response = client.post(reverse("followups:morning", kwargs={"token": token, "log_id": theirs.pk}),
                           {f"item_{theirs.items.get().pk}": "worse"})
    assert response.status_code == 404
    assert theirs.items.get().next_morning == ""


def test_without_an_active_program_there_is_nothing_to_log(client, patient, therapist):
    response = client.get(log_url(token_for(patient, therapist)))

    assert response.status_code == 200 and "no active program" in response.content.decode()


# ---------------------------------------------------------------------------- the program page and the next morning


def test_the_program_page_links_to_the_log_and_then_to_the_next_morning_question(client, program, token):
    program_page = reverse("prescriptions:patient-program", kwargs={"token": token})
    page = client.get(program_page).content.decode()
    assert "Log today's session" in page and log_url(token) in page
    assert "How do you feel this morning?" not in page

    yesterday = patient_today(program) - timedelta(days=1)
    client.post(log_url(token), form_data(program, done(), day=yesterday))
    log = SessionLog.objects.get()
    morning = reverse("followups:morning", kwargs={"token": token, "log_id": log.pk})
    assert morning in client.get(program_page).content.decode()

    client.post(morning, {f"item_{log.items.get().pk}": "same"})
    assert "How do you feel this morning?" not in client.get(program_page).content.decode()


def test_a_session_logged_today_waits_for_tomorrow_before_asking_about_the_morning(client, program, token):
    client.post(log_url(token), form_data(program, done()))

    page = client.get(reverse("prescriptions:patient-program", kwargs={"token": token})).content.decode()
    assert "How do you feel this morning?" not in page


def test_the_next_morning_answers_are_saved_and_worse_steps_back(client, program, token):
    client.post(log_url(token), form_data(program, done(2, 12, 4), done(2, 25, 0)))
    log = SessionLog.objects.get()
    knee, hold = log.items.order_by("id")
    morning = reverse("followups:morning", kwargs={"token": token, "log_id": log.pk})
    assert "Better" in client.get(morning).content.decode()

    response = client.post(morning, {f"item_{knee.pk}": "worse", f"item_{hold.pk}": "better"})

    assert response.status_code == 200 and "Your answers are saved" in response.content.decode()
    assert list(log.items.order_by("id").values_list("next_morning", flat=True)) == ["worse", "better"]
    proposal = ProgressionProposal.objects.get(status=ProposalStatus.PENDING)
    assert (proposal.item_id, proposal.action) == (knee.item_id, "regress")


@pytest.mark.parametrize("answers", [{}, {"item_X": "worse"}, {"item_X": "terrible"}], ids=["none", "", "unknown"])
def test_a_next_morning_form_without_a_valid_answer_saves_nothing(client, program, token, answers):
    client.post(log_url(token), form_data(program, done()))
    log = SessionLog.objects.get()
    row = log.items.get()
    answers = {key.replace("X", str(row.pk if value == "terrible" else row.pk + 1000)): value
               for key, value in answers.items()}

    response = client.post(reverse("followups:morning", kwargs={"token": token, "log_id": log.pk}), answers)

    assert response.status_code == 400 and "Nothing was saved" in response.content.decode()
    row.refresh_from_db()
    assert row.next_morning == ""


# ---------------------------------------------------------------------------- proposals


def test_two_sessions_two_beyond_the_top_of_the_range_propose_a_step_up(client, program, token):
    knee = program.items.get(exercise__slug="seated-knee-raise")
    today = patient_today(program)
    client.post(log_url(token), form_data(program, done(2, 17, 1), day=today - timedelta(days=2)))
    assert not ProgressionProposal.objects.exists()  # one session is not two

    client.post(log_url(token), form_data(program, done(2, 17, 1), day=today))

    proposal = ProgressionProposal.objects.get()
    assert (proposal.item_id, proposal.action, proposal.status) == (knee.pk, "progress", ProposalStatus.PENDING)
    assert proposal.proposed == {"sets": 2, "dose_low": 12, "dose_high": 17, "load": None}


def test_pain_above_five_proposes_a_step_back(client, program, token):
    client.post(log_url(token), form_data(program, done(2, 12, 7)))

    proposal = ProgressionProposal.objects.get()
    assert (proposal.action, proposal.proposed["dose_low"], proposal.proposed["dose_high"]) == ("regress", 8, 13)
    assert proposal.reason.startswith("Pain 7/10 during the exercise")
