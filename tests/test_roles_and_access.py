"""Roles decide what each member of staff can open: pages, admin and API alike."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.accounts.roles import GROUP_NAMES, ROLE_PERMISSIONS, Role
from tests.conftest import PASSWORD, authenticator_for, one_time_code
from tests.factories import UserFactory

ALL_ROLES = [Role.FRONT_DESK, Role.THERAPIST, Role.CLINIC_MANAGER]


@pytest.mark.django_db
def test_migrate_creates_the_three_role_groups_with_their_permissions():
    for role in ALL_ROLES:
        group = Group.objects.get(name=GROUP_NAMES[role])
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == set(ROLE_PERMISSIONS[role])


# Each role, an admin page and an API call it holds no permission for.
FORBIDDEN = [
    (Role.FRONT_DESK, "/admin/accounts/user/", ("get", "/api/v1/users/")),
    (Role.THERAPIST, "/admin/accounts/user/", ("get", "/api/v1/users/")),
    (Role.CLINIC_MANAGER, "/admin/auth/group/", ("delete", "/api/v1/users/{other}/")),
]


@pytest.mark.parametrize(("role_user", "admin_page", "api_call"), FORBIDDEN, indirect=["role_user"])
def test_each_role_gets_403_where_it_holds_no_permission(client, api_client, role_user, admin_page, api_call):
    other = UserFactory(role=Role.FRONT_DESK)
    client.force_login(role_user)
    api_client.force_authenticate(role_user)
    method, path = api_call

    assert client.get(admin_page).status_code == 403
    assert getattr(api_client, method)(path.format(other=other.pk)).status_code == 403
    assert User.objects.filter(pk=other.pk).exists()


@pytest.mark.django_db
def test_the_clinic_manager_can_list_and_add_staff(client, manager):
    client.force_login(manager)

    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get("/admin/accounts/user/add/").status_code == 200


@pytest.mark.django_db
def test_a_manager_cannot_make_anyone_a_superuser_or_edit_one(client, manager):
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    colleague = UserFactory(role=Role.THERAPIST)
    client.force_login(manager)

    page = client.get(f"/admin/accounts/user/{colleague.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    response = client.post(
        f"/admin/accounts/user/{boss.pk}/change/",
        {"username": "boss", "is_active": "on", "is_superuser": "", "first_name": "took", "last_name": "over"},
    )
    assert response.status_code == 403
    boss.refresh_from_db()
    assert boss.is_superuser and boss.first_name != "took"


@pytest.mark.django_db
def test_a_manager_gives_a_colleague_exactly_one_role_in_the_admin(client, manager):
    colleague = UserFactory(username="robin", role=Role.FRONT_DESK)
    client.force_login(manager)

    response = client.post(f"/admin/accounts/user/{colleague.pk}/change/", {
        "username": "robin", "first_name": "Robin", "last_name": "Lee", "email": "robin@clinic.test",
        "is_active": "on", "role": "therapist", "date_joined_0": "2026-01-01", "date_joined_1": "09:00:00"})

    assert response.status_code == 302
    assert [group.name for group in colleague.groups.all()] == ["Therapist"]
    assert User.history.filter(id=colleague.pk).latest().history_user == manager


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login_or_refused(client, api_client):
    assert client.get("/desk/").url.startswith("/accounts/login/?next=/desk/")
    admin = client.get("/admin/", follow=True)
    assert admin.redirect_chain[-1][0].startswith("/accounts/login/?next=/admin/")
    assert api_client.get("/api/v1/users/").status_code in {401, 403}
    assert api_client.get("/api/v1/me/").status_code in {401, 403}


@pytest.mark.parametrize(
    ("role_user", "landing"),
    [(Role.FRONT_DESK, "/desk/"), (Role.THERAPIST, "/admin/"), (Role.CLINIC_MANAGER, "/admin/")],
    indirect=["role_user"],
)
def test_signing_in_takes_each_role_to_its_own_start_page(client, role_user, landing):
    device = authenticator_for(role_user)  # clinicians' second factor; the front desk has none by default

    response = client.post("/accounts/login/", {"username": role_user.username, "password": PASSWORD}, follow=True)
    if device is not None:
        response = client.post("/accounts/two-factor/code/", {"code": one_time_code(device)}, follow=True)

    assert response.redirect_chain[-1][0] == landing
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_user_without_a_role_cannot_sign_in(client):
    UserFactory(username="drifter", role=None)

    response = client.post("/accounts/login/", {"username": "drifter", "password": PASSWORD})

    assert response.status_code == 200
    assert "no role in the clinic" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_wrong_password_shows_a_form_error_not_a_crash(client, frontdesk):
    response = client.post("/accounts/login/", {"username": "frontdesk", "password": "nope"})

    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


@pytest.mark.django_db
def test_front_desk_admin_index_lists_no_models_it_cannot_use(client, frontdesk):
    client.force_login(frontdesk)

    page = client.get("/admin/").content.decode()

    assert "/admin/accounts/user/" not in page
    assert "/admin/auth/group/" not in page


@pytest.mark.django_db
def test_staff_session_ends_after_the_idle_limit(client, frontdesk, settings):
    import time_machine

    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_MINUTES * 60 == 30 * 60
    with time_machine.travel("2026-11-23 09:00 +0000", tick=False) as traveller:
        client.post("/accounts/login/", {"username": "frontdesk", "password": PASSWORD})
        traveller.shift(29 * 60)
        assert client.get("/desk/").status_code == 200  # activity renews the session
        traveller.shift(29 * 60)
        assert client.get("/desk/").status_code == 200
        traveller.shift(31 * 60)
        response = client.get("/desk/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_seed_demo_creates_one_user_per_role_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo", password="another-demo-pass")
    call_command("seed_demo", password="another-demo-pass")

    users = {user.username: user for user in User.objects.filter(
        username__in=["frontdesk", "therapist", "assistant", "manager"])}
    assert {name: user.role for name, user in users.items()} == {
        "frontdesk": Role.FRONT_DESK,
        "therapist": Role.THERAPIST,
        "assistant": Role.ASSISTANT,
        "manager": Role.CLINIC_MANAGER,
    }
    assert all(user.check_password("another-demo-pass") for user in users.values())
    assert User.objects.filter(username="therapist2").get().role == Role.THERAPIST  # a second diary to book
    assert User.objects.count() == 5


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_in_production_by_default(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="refusing to create demo users"):
        call_command("seed_demo")
    assert not User.objects.exists()
