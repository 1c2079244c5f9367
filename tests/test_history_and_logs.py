"""Changes to personal data are kept with who made them; logs carry no personal data."""

import logging

import pytest

from apps.accounts.models import User
from apps.ops.tasks import record_heartbeat
from tests.factories import UserFactory


@pytest.mark.django_db
def test_editing_a_staff_member_in_the_admin_keeps_the_old_values_and_the_editor(client, manager):
    colleague = UserFactory(username="robin", first_name="Robin", last_name="Old", role="therapist")
    client.force_login(manager)

    response = client.post(
        f"/admin/accounts/user/{colleague.pk}/change/",
        {"username": "robin", "first_name": "Robin", "last_name": "New", "email": "robin@clinic.test",
         "is_active": "on", "role": "therapist",
         "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    records = list(User.history.filter(id=colleague.pk).order_by("history_date"))
    assert [r.last_name for r in records][-2:] == ["Old", "New"]
    assert records[-1].history_user == manager
    history_page = client.get(f"/admin/accounts/user/{colleague.pk}/history/")
    assert history_page.status_code == 200
    assert "New" in history_page.content.decode()


@pytest.mark.django_db
def test_a_request_is_logged_as_one_line_with_the_route_and_no_query(client, frontdesk, caplog):
    client.force_login(frontdesk)

    with caplog.at_level(logging.INFO, logger="hipclinic.request"):
        client.get("/desk/?q=Jane+Doe+1970-01-01")

    lines = [r.getMessage() for r in caplog.records if r.name == "hipclinic.request"]
    assert len(lines) == 1
    assert lines[0].startswith("GET /desk/ 200 ")
    assert f"user={frontdesk.pk}" in lines[0]
    assert "Jane" not in lines[0] and "q=" not in lines[0]


@pytest.mark.django_db
def test_a_task_is_logged_as_one_line_without_arguments(caplog):
    with caplog.at_level(logging.INFO, logger="hipclinic.task"):
        record_heartbeat.apply()

    lines = [r.getMessage() for r in caplog.records if r.name == "hipclinic.task"]
    assert len(lines) == 1
    assert lines[0].startswith("task=apps.ops.tasks.record_heartbeat ") and "state=SUCCESS" in lines[0]
