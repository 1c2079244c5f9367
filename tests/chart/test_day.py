"""The therapist's day page (/chart/day/): today's visits and their notes, and what waits on the clinician.

The clinic is pinned to UTC and the clock to Friday 20 March 2026, 12:00.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from apps.accounts.roles import Role
from apps.visits import services
from apps.visits.models import NoteKind
from tests.conftest import PASSWORD
from tests.desk.conftest import text
from tests.factories import AppointmentFactory, PatientFactory, SessionLogFactory, TherapistFactory, UserFactory
from tests.visits.conftest import one_time_code

START = date(2026, 3, 2)
TODAY = date(2026, 3, 20)
DAY = "/chart/day/"


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@pytest.fixture(autouse=True)
def _noon(clinic_in_utc):
    with time_machine.travel(at(TODAY, 12), tick=False):
        yield


@pytest.fixture
def rota(therapist):
    return TherapistFactory(user=therapist, display_name="Theo Therapist")


@pytest.fixture
def assistant(db):
    return UserFactory(username="assistant", first_name="Ada", last_name="Assist", role=Role.ASSISTANT,
                       password=PASSWORD)


def on_plan(therapist, **patient_fields):
    patient = PatientFactory(**patient_fields)
    services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=3,
                         duration_weeks=8, started_on=START, diagnoses=[("M62.81", "")])
    return patient


@pytest.fixture
def clinic_day(therapist, rota, assistant, prescribe):
    """Today's list for Theo: the 10th visit of one patient, a draft, a note awaiting co-signature,
    a patient without a plan; a late draft from yesterday; a pain alert and a proposal."""
    tenth = on_plan(therapist, first_name="Tess", last_name="Tenth")
    for n in range(9):
        AppointmentFactory(patient=tenth, therapist=rota, start=at(START + timedelta(days=2 * n)), status="completed")
    rows = {"tenth": AppointmentFactory(patient=tenth, therapist=rota, start=at(TODAY, 9), status="completed")}

    drafted = on_plan(therapist, first_name="Dora", last_name="Draft")
    rows["draft"] = AppointmentFactory(patient=drafted, therapist=rota, start=at(TODAY, 10), status="checked_in")
    services.start_note(appointment=rows["draft"], author=therapist)

    assisted = on_plan(therapist, first_name="Asa", last_name="Assisted")
    rows["assisted"] = AppointmentFactory(patient=assisted, therapist=rota, start=at(TODAY, 8), status="completed")
    with time_machine.travel(at(TODAY - timedelta(days=3), 12), tick=False):
        yesterday = AppointmentFactory(patient=assisted, therapist=rota, start=at(TODAY - timedelta(days=3), 9),
                                       status="completed")
        services.sign_note(note=services.start_note(appointment=yesterday, author=assistant), signer=assistant,
                           password=PASSWORD)
    note = services.start_note(appointment=rows["assisted"], author=assistant)
    services.sign_note(note=note, signer=assistant, password=PASSWORD)

    rows["no_plan"] = AppointmentFactory(patient=PatientFactory(first_name="Nora", last_name="Noplan"),
                                         therapist=rota, start=at(TODAY, 15), status="booked")

    with time_machine.travel(at(TODAY - timedelta(days=2), 12), tick=False):
        late = AppointmentFactory(patient=drafted, therapist=rota, start=at(TODAY - timedelta(days=2), 9),
                                  status="completed")
        rows["late_note"] = services.start_note(appointment=late, author=therapist)

    program = prescribe(tenth, therapist, "seated-knee-raise")
    SessionLogFactory(program=program, pain_during=7)
    AppointmentFactory(start=at(TODAY, 11), status="booked")  # another therapist's patient: not Theo's day
    return rows


def test_the_therapists_day_lists_todays_visits_with_their_note_status_and_links(client, therapist, clinic_day):
    client.force_login(therapist)
    response = client.get(DAY)
    assert response.status_code == 200
    page, html = text(response), response.content.decode()

    assert "Your day: Friday 20 March 2026" in page
    assert "08:00-08:30 Asa Assisted" in page  # earliest first
    for key, status in [("assisted", "awaiting co-signature"), ("tenth", "none"), ("draft", "draft"),
                        ("no_plan", "none")]:
        row = html.split(f'data-testid="visit-{clinic_day[key].pk}"')[1].split("</tr>")[0]
        assert f'data-testid="note-status">{status}<' in row, key
    tenth = clinic_day["tenth"]
    assert f'href="/admin/visits/visitnote/add/?appointment={tenth.pk}&amp;kind=progress"' in html
    assert "Progress report due at this visit" in page
    draft = clinic_day["draft"].visit_note
    assert f'href="/admin/visits/visitnote/{draft.pk}/change/"' in html
    assert "No open plan of care" in page
    assert page.count("Follow-up") == 4  # the other therapist's visit is not on Theo's day


def test_the_day_lists_late_notes_the_clock_proposals_and_pain_alerts(client, therapist, clinic_day):
    client.force_login(therapist)
    page = text(client.get(DAY))

    late = page.split("Late notes")[1].split("Plans of care: due")[0]
    assert "Dora Draft" in late and "the author's signature (draft since Wed 18 Mar" in late
    assert "Asa Assisted" in late and "a co-signature by" in late and "(signed Tue 17 Mar" in late
    assert late.count("Daily note") == 2  # today's draft and today's assistant note are not late yet

    clock = page.split("Plans of care: due within a week or overdue")[1].split("Progression proposals")[0]
    assert "Tess Tenth" in clock and "Progress report due at visit 10 (20 Mar 2026)" in clock
    assert "Certification" not in clock  # due on 1 April: more than a week away
    alerts = page.split("Pain alerts from home sessions")[1]
    assert "Tess Tenth" in alerts and "pain 7/10 during the exercise" in alerts
    proposals = page.split("Progression proposals waiting for approval")[1].split("Pain alerts")[0]
    assert "Tess Tenth" in proposals


def test_with_the_clock_off_the_day_shows_no_clock_but_still_the_late_notes(
    client, therapist, clinic_day, clinic_policy
):
    clinic_policy(plan_of_care_clock=False)
    client.force_login(therapist)
    page = text(client.get(DAY))
    assert "Plans of care: due" not in page and "Progress report due" not in page
    assert "Late notes" in page


def test_an_assistant_sees_the_visits_of_the_patients_they_write_for_and_no_clock(client, assistant, clinic_day):
    client.force_login(assistant)
    page = text(client.get(DAY))

    assert "Asa Assisted" in page.split("Late notes")[0]
    assert "Tess Tenth" not in page and "Dora Draft" not in page
    assert "Plans of care: due" not in page
    assert "a co-signature by" in page  # their own note still waits


def test_a_manager_sees_the_whole_clinic(client, manager, clinic_day):
    client.force_login(manager)
    page = text(client.get(DAY))
    assert "The clinic: Friday 20 March 2026" in page
    assert page.count("Follow-up") == 5
    assert "Start the note" not in page  # managers read


def test_the_front_desk_is_refused_and_sees_no_link(client, frontdesk, therapist):
    client.force_login(frontdesk)
    assert client.get(DAY).status_code == 403
    assert reverse("chart:day") not in client.get(reverse("admin:index")).content.decode()
    client.force_login(therapist)
    assert reverse("chart:day") in client.get(reverse("admin:index")).content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(DAY)
    assert response.status_code == 302 and "/login/" in response.url


@pytest.mark.parametrize("patients", [1, 6])
def test_the_day_runs_the_same_queries_however_many_visits(
    client, therapist, rota, assistant, prescribe, patients, django_assert_num_queries
):
    for n in range(patients):
        patient = on_plan(therapist)
        for day in range(3):
            AppointmentFactory(patient=patient, therapist=rota, start=at(START + timedelta(days=day), 8 + n % 8),
                               status="completed")
        today = AppointmentFactory(patient=patient, therapist=rota, start=at(TODAY, 8) + timedelta(minutes=30 * n),
                                   status="completed")
        services.sign_note(note=services.start_note(appointment=today, author=assistant), signer=assistant,
                           password=PASSWORD)
        services.record_certification(plan=patient.plans_of_care.get(), signed_on=START, clinician="Dr R",
                                      recorded_by=therapist)
        SessionLogFactory(program=prescribe(patient, therapist, "seated-knee-raise"), pain_during=8)
    client.force_login(therapist)
    client.get(DAY)  # the session and permission caches are warm from here on
    # session, user, the authenticator that verified the session (two-factor), groups; today's
    # visits (with patient, therapist, kind, note, open plan); policy; the open plans; their
    # visits, report notes, certifications; proposals; pain alerts; late drafts; notes awaiting
    # co-signature; permissions for the admin's header (user's, groups'); session saved
    # (savepoint, update, release)
    with django_assert_num_queries(19):
        page = text(client.get(DAY))
    assert page.count("awaiting co-signature") == patients
    assert page.count("pain 8/10") == patients


def test_a_note_kind_started_from_the_day_page_is_the_progress_report_for_the_tenth_visit(
    client, therapist, clinic_day
):
    client.force_login(therapist)
    tenth = clinic_day["tenth"]
    client.post(f"/admin/visits/visitnote/add/?appointment={tenth.pk}&kind=progress",
                {"appointment": tenth.pk, "kind": NoteKind.PROGRESS})
    tenth.refresh_from_db()
    assert tenth.visit_note.kind == NoteKind.PROGRESS
    assert "Progress report due at this visit" in text(client.get(DAY))  # until the report is signed
    client.post(f"/admin/visits/visitnote/{tenth.visit_note.pk}/sign/",
                {"password": PASSWORD, "code": one_time_code(therapist)})
    assert "Progress report due at this visit" not in text(client.get(DAY))
