"""The API's shared behaviour: token sign-in, role permissions, pagination, schema."""

import pytest
from rest_framework.authtoken.models import Token

from apps.accounts.models import User
from apps.accounts.roles import Role
from tests.conftest import PASSWORD
from tests.factories import UserFactory


@pytest.mark.django_db
def test_a_token_from_username_and_password_opens_the_api(api_client, manager):
    response = api_client.post("/api/v1/auth/token/", {"username": "manager", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "manager" and me.json()["role"] == "clinic_manager"


@pytest.mark.django_db
def test_wrong_credentials_get_400_with_a_message_not_a_token(api_client, manager):
    response = api_client.post("/api/v1/auth/token/", {"username": "manager", "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_a_missing_field_is_named_in_the_400(api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": "manager"}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()


@pytest.mark.django_db
def test_a_bad_token_is_refused(api_client, manager):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert api_client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_lists_are_paged_by_50_and_page_size_is_capped_at_200(api_client, manager):
    UserFactory.create_batch(230, role=Role.FRONT_DESK)
    api_client.force_authenticate(manager)

    first = api_client.get("/api/v1/users/").json()
    assert first["count"] == 231  # the manager is staff too
    assert len(first["results"]) == 50 and first["next"]
    assert len(api_client.get("/api/v1/users/?page_size=500").json()["results"]) == 200
    assert len(api_client.get("/api/v1/users/?page_size=120").json()["results"]) == 120


@pytest.mark.django_db
def test_a_manager_adds_staff_with_a_role_through_the_api(api_client, manager, django_capture_on_commit_callbacks):
    api_client.force_authenticate(manager)

    response = api_client.post(
        "/api/v1/users/",
        {"username": "newdesk", "first_name": "Nia", "last_name": "Desk", "email": "nia@clinic.test",
         "role": "front_desk"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    user = User.objects.get(username="newdesk")
    assert user.role == Role.FRONT_DESK and not user.has_usable_password()


@pytest.mark.django_db
def test_an_unknown_role_is_a_field_error(api_client, manager):
    api_client.force_authenticate(manager)

    response = api_client.post("/api/v1/users/", {"username": "x", "role": "surgeon"}, format="json")

    assert response.status_code == 400
    assert "role" in response.json()
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served_to_staff(client, frontdesk):
    assert client.get("/api/schema/").status_code in {401, 403}
    client.force_login(frontdesk)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/auth/token/" in document["paths"] and "/api/v1/users/" in document["paths"]
    assert client.get("/api/docs/").status_code == 200
