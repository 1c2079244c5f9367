"""Who may open the desk pages, and that GET never changes anything."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.accounts.roles import Role
from apps.desk import views
from tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("monday_morning")

PAGES = [
    ("desk:home", None),
    ("desk:patients", None),
    ("desk:patient-new", None),
    ("desk:waitlist", None),
    ("desk:patient", "patient"),
    ("desk:patient-book", "patient"),
    ("desk:patient-series", "patient"),
    ("desk:appointment-reschedule", "appointment"),
    ("desk:appointment-cancel", "appointment"),
]
ACTIONS = [
    ("desk:patient-waitlist", "patient"),
    ("desk:patient-archive", "patient"),
    ("desk:patient-restore", "patient"),
    ("desk:appointment-check-in", "appointment"),
    ("desk:appointment-check-out", "appointment"),
    ("desk:appointment-no-show", "appointment"),
]


@pytest.fixture
def urls(db):
    appointment = AppointmentFactory(patient=PatientFactory(), start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    objects = {"patient": appointment.patient.pk, "appointment": appointment.pk}

    def url(name, arg):
        return reverse(name, args=[objects[arg]] if arg else [])

    return url


def test_every_desk_view_states_the_desk_roles():
    assert set(views.DESK_ROLES) == {Role.FRONT_DESK, Role.THERAPIST, Role.CLINIC_MANAGER}
    for name in ("home", "day", "patient_search", "patient_register", "patient_detail", "patient_book",
                 "patient_series", "patient_waitlist_add", "patient_archive", "patient_restore",
                 "appointment_reschedule", "appointment_cancel", "appointment_check_in", "appointment_check_out",
                 "appointment_no_show",
                 "waitlist"):
        assert getattr(views, name).allowed_roles == views.DESK_ROLES, name


@pytest.mark.parametrize(("name", "arg"), PAGES + ACTIONS)
def test_anonymous_visitors_are_sent_to_sign_in(client, urls, name, arg):
    url = urls(name, arg)
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")


@pytest.mark.parametrize(("name", "arg"), PAGES + ACTIONS)
def test_a_user_without_a_role_is_refused(client, roleless, urls, name, arg):
    client.force_login(roleless)
    assert client.get(urls(name, arg)).status_code == 403
    assert client.post(urls(name, arg)).status_code == 403


@pytest.mark.parametrize("role_user", views.DESK_ROLES, indirect=True)
@pytest.mark.parametrize(("name", "arg"), PAGES)
def test_every_desk_role_opens_every_page(client, role_user, urls, name, arg):
    client.force_login(role_user)
    assert client.get(urls(name, arg)).status_code == 200


@pytest.mark.parametrize(("name", "arg"), PAGES + ACTIONS)
def test_assistants_have_no_desk_pages(client, assistant, urls, name, arg):
    client.force_login(assistant)
    assert client.get(urls(name, arg)).status_code == 403
    assert client.post(urls(name, arg)).status_code == 403


@pytest.mark.parametrize(("name", "arg"), ACTIONS)
def test_actions_refuse_get(desk, urls, name, arg):
    assert desk.get(urls(name, arg)).status_code == 405


def test_posts_need_the_csrf_token(client, frontdesk, urls):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(frontdesk)

    assert client.post(urls("desk:appointment-check-in", "appointment")).status_code == 403
    assert client.post(urls("desk:patient-new", None), {"first_name": "X"}).status_code == 403


@pytest.mark.parametrize(("name", "arg"), PAGES)
def test_element_ids_are_unique_so_every_label_names_one_field(desk, urls, name, arg):
    content = desk.get(urls(name, arg)).content.decode()
    ids = re.findall(r'\sid="([^"]+)"', content)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
