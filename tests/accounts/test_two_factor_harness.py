"""The test harness signs staff in as the sign-in page does, one-time code included (tests/conftest.py),
so tests about other things open pages with ``client.force_login(user)`` as before."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


def test_force_login_gives_a_therapist_an_authenticator_and_a_verified_session(client, therapist):
    client.force_login(therapist)

    admin_index = client.get("/admin/")
    assert admin_index.status_code == 200
    assert 'href="/accounts/two-factor/"' in admin_index.content.decode()  # beside "Log out"
    assert TOTPDevice.objects.filter(user=therapist, confirmed=True).count() == 1
    Client().force_login(therapist)  # again: the same authenticator
    assert TOTPDevice.objects.filter(user=therapist).count() == 1


def test_force_login_leaves_the_front_desk_without_one_unless_the_clinic_requires_it(client, frontdesk, clinic_policy):
    client.force_login(frontdesk)
    assert client.get("/desk/").status_code == 200
    assert not TOTPDevice.objects.filter(user=frontdesk).exists()

    clinic_policy(two_factor_for_front_desk=True)
    client.force_login(frontdesk)

    assert client.get("/desk/").status_code == 200
    assert TOTPDevice.objects.filter(user=frontdesk, confirmed=True).exists()


@pytest.mark.raw_sign_in
def test_raw_sign_in_keeps_djangos_own_force_login(client, therapist):
    client.force_login(therapist)

    assert client.get("/admin/").url.startswith("/accounts/two-factor/set-up/")
