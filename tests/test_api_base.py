"""The API's shared behaviour: token sign-in, role permissions, pagination, schema."""

import pytest
from rest_framework.authtoken.models import Token

from apps.accounts.models import User
from apps.accounts.roles import Role
from tests.conftest import PASSWORD, authenticator_for, one_time_code
from tests.factories import PatientFactory, UserFactory
from tests.openapi import assert_documented, served_schema


@pytest.mark.django_db
def test_a_token_from_username_and_password_opens_the_api(api_client, manager):
    otp = one_time_code(authenticator_for(manager))  # managers sign in with two-factor: the API token too

    response = api_client.post("/api/v1/auth/token/", {"username": "manager", "password": PASSWORD, "otp": otp},
                               format="json")

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


# ---------------------------------------------------------------------------- found by API fuzzing


@pytest.mark.django_db
def test_the_errors_an_operation_answers_are_documented_in_the_schema(api_client, frontdesk):
    # Each operation documents its errors too, not only its success.
    api_client.force_authenticate(frontdesk)
    schema = served_schema(api_client)

    assert_documented(schema, api_client.post("/api/v1/patients/", {}, format="json"), "POST", "/api/v1/patients/")
    assert_documented(schema, api_client.get("/api/v1/programs/"), "GET", "/api/v1/programs/")
    assert_documented(schema, api_client.get("/api/v1/patients/999999/"), "GET", "/api/v1/patients/{id}/")
    api_client.force_authenticate(None)
    assert_documented(schema, api_client.get("/api/v1/patients/"), "GET", "/api/v1/patients/")


@pytest.mark.django_db
def test_an_api_address_that_matches_no_route_answers_json_like_the_rest_of_the_api(api_client, client, frontdesk):
    api_client.force_authenticate(frontdesk)

    for path in ("/api/v1/patients/-2.5e-84/", "/api/v1/no-such-list/"):  # the first, a fuzzer's id
        response = api_client.get(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")  # pages keep the HTML page


@pytest.mark.parametrize("page_size", ["abc", "0", "-3", "2.5", ""])
@pytest.mark.django_db
def test_a_page_size_that_is_not_a_whole_number_from_1_is_refused_not_ignored(api_client, manager, page_size):
    api_client.force_authenticate(manager)

    response = api_client.get("/api/v1/users/", {"page_size": page_size})

    assert response.status_code == 400 and "page_size" in response.json()


@pytest.mark.django_db
def test_an_empty_page_number_is_an_invalid_page_like_any_unreadable_one(api_client, manager):
    api_client.force_authenticate(manager)

    assert api_client.get("/api/v1/users/", {"page": ""}).status_code == 404
    assert api_client.get("/api/v1/users/", {"page": "abc"}).status_code == 404
    assert api_client.get("/api/v1/users/", {"page": "1"}).status_code == 200


@pytest.mark.django_db
def test_the_api_reads_json_only_so_a_form_cannot_clear_what_it_leaves_out(api_client, frontdesk):
    # A PUT form without the consent checkbox read as "no consent"; JSON leaves an absent field alone.
    patient = PatientFactory(email_consent=True)
    api_client.force_authenticate(frontdesk)

    response = api_client.put(f"/api/v1/patients/{patient.pk}/", {"first_name": "Ada", "last_name": "Lovelace",
                                                                  "date_of_birth": "1960-12-10", "sex": "female"},
                              format="multipart")

    assert response.status_code == 415
    assert_documented(served_schema(api_client), response, "PUT", "/api/v1/patients/{id}/")
    patient.refresh_from_db()
    assert patient.email_consent is True


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_username_longer_than_any_account_s_is_refused_rather_than_a_server_error(api_client):
    # django-axes records the failed sign-in with the username; PostgreSQL refused one over 255 characters.
    response = api_client.post("/api/v1/auth/token/", {"username": "u" * 300, "password": "guess"}, format="json")

    assert response.status_code == 400 and "username" in response.json()
