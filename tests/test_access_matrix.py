"""Who may open what: every API list, admin list and desk page, for every role.

Extend EXPECTED when a page or endpoint is added; a page missing from it fails
``test_every_admin_model_is_in_the_matrix``.
"""

import pytest
from django.contrib import admin

from apps.fhir.mapping import RESOURCE_TYPES
from tests.factories import UserFactory

DESK, THERAPIST, ASSISTANT, MANAGER = "front_desk", "therapist", "assistant", "clinic_manager"
ALL = {DESK, THERAPIST, ASSISTANT, MANAGER}
# Assistants treat patients on a plan: they read patients, appointments and clinical records,
# write daily visit notes, and see none of the desk's pages, the waitlist or staff accounts.
NOT_ASSISTANT = ALL - {ASSISTANT}
CLINICAL = {THERAPIST, ASSISTANT, MANAGER}

API = {
    "/api/v1/me/": ALL,
    "/api/v1/users/": {MANAGER},
    "/api/v1/patients/": ALL,
    "/api/v1/referrals/": ALL,
    "/api/v1/appointments/": ALL,
    "/api/v1/waitlist/": NOT_ASSISTANT,
    "/api/v1/therapists/": ALL,
    "/api/v1/slots/?kind=follow_up&start=2030-01-07&end=2030-01-08": ALL,
    "/api/v1/reports/summary/?start=2030-01-01&end=2030-03-31": {THERAPIST, MANAGER},
    "/api/v1/assessments/": CLINICAL,
    "/api/v1/outcome-measures/": CLINICAL,
    "/api/v1/exercises/": CLINICAL,
    "/api/v1/programs/": CLINICAL,
    "/api/v1/plans-of-care/": CLINICAL,
    "/api/v1/visit-notes/": CLINICAL,
    # Billing: never assistants; invoices and payments are the desk's and managers'.
    "/api/v1/charges/": NOT_ASSISTANT,
    "/api/v1/invoices/": {DESK, MANAGER},
    "/api/v1/payments/": {DESK, MANAGER},
    "/api/v1/payers/": NOT_ASSISTANT,
    "/api/v1/billing-codes/": NOT_ASSISTANT,
    # FHIR R4 (read-only): clinical readers only, every type's search and the capability statement.
    "/fhir/R4/metadata": CLINICAL,
    **{f"/fhir/R4/{resource_type}": CLINICAL for resource_type in RESOURCE_TYPES},
    "/api/v1/webhook-endpoints/": {MANAGER},
}

ADMIN = {
    "/admin/": ALL,
    "/admin/accounts/user/": {MANAGER},
    "/admin/auth/group/": set(),
    "/admin/authtoken/tokenproxy/": set(),
    "/admin/patients/patient/": ALL,
    "/admin/patients/referral/": ALL,
    "/admin/scheduling/appointment/": ALL,
    "/admin/scheduling/appointmentkind/": ALL,
    "/admin/scheduling/therapist/": ALL,
    "/admin/scheduling/timeoff/": NOT_ASSISTANT,
    "/admin/scheduling/waitlistentry/": NOT_ASSISTANT,
    "/admin/notifications/outboxemail/": {MANAGER},
    "/admin/assessments/assessment/": CLINICAL,
    "/admin/assessments/outcomemeasure/": CLINICAL,
    "/admin/prescriptions/exercise/": CLINICAL,
    "/admin/prescriptions/program/": CLINICAL,
    "/admin/prescriptions/patientlink/": {THERAPIST, MANAGER},
    "/admin/followups/followup/": NOT_ASSISTANT,
    "/admin/followups/sessionlog/": CLINICAL,
    "/admin/followups/progressionproposal/": CLINICAL,
    "/admin/ops/accesslog/": {MANAGER},
    "/admin/ops/clinicpolicy/": {THERAPIST, MANAGER},  # one row: the list opens it
    # django-axes' records of failed sign-ins and lockouts: superusers only.
    "/admin/axes/accessattempt/": set(),
    "/admin/axes/accessfailurelog/": set(),
    "/admin/axes/accesslog/": set(),
    # Plans of care and visit notes: never the front desk.
    "/admin/visits/planofcare/": CLINICAL,
    "/admin/visits/visitnote/": CLINICAL,
    "/admin/visits/diagnosiscode/": CLINICAL,
    # Billing: the desk sees amounts, codes, invoices and payments and records who pays; therapists see
    # their own charges and the codes; managers keep codes and payers; assistants see none of it.
    "/admin/billing/billingcode/": {DESK, THERAPIST, MANAGER},
    "/admin/billing/payer/": {DESK, THERAPIST, MANAGER},
    "/admin/billing/coverage/": {DESK, MANAGER},
    "/admin/billing/charge/": {DESK, THERAPIST, MANAGER},
    "/admin/billing/invoice/": {DESK, MANAGER},
    "/admin/billing/payment/": {DESK, MANAGER},
    # Therapists' calendar feeds: managers see who has one and revoke any (therapists use /calendars/).
    "/admin/calendars/calendarfeed/": {MANAGER},
    # Webhooks: managers register endpoints (their secrets are on the page) and read the delivery log.
    "/admin/webhooks/webhookendpoint/": {MANAGER},
    "/admin/webhooks/webhookdelivery/": {MANAGER},
}

DESK_PAGES = {
    "/desk/": NOT_ASSISTANT,
    "/desk/followups/": NOT_ASSISTANT,
    "/desk/patients/": NOT_ASSISTANT,
    "/desk/patients/new/": NOT_ASSISTANT,
    "/desk/waitlist/": NOT_ASSISTANT,
    "/billing/": {DESK, MANAGER},  # open invoices (a patient's billing page: test_access_every_route.py)
    "/reports/": {THERAPIST, MANAGER},  # the clinic's numbers (a therapist's own)
    "/reports/csv/attendance/": {THERAPIST, MANAGER},
    "/calendars/": {THERAPIST},  # one's own calendar feed
}


def _cases(table):
    return [(url, role, role in allowed) for url, allowed in table.items() for role in sorted(ALL)]


@pytest.mark.parametrize(("url", "role", "allowed"), _cases(API))
@pytest.mark.django_db
def test_api_access_follows_the_role(api_client, url, role, allowed):
    api_client.force_authenticate(UserFactory(role=role))

    status = api_client.get(url).status_code

    assert status == (200 if allowed else 403)


@pytest.mark.parametrize(("url", "role", "allowed"), _cases(ADMIN) + _cases(DESK_PAGES))
@pytest.mark.django_db
def test_page_access_follows_the_role(client, url, role, allowed):
    client.force_login(UserFactory(role=role))

    status = client.get(url, follow=True).status_code  # a one-row list (the clinic's policy) opens its row

    assert status == (200 if allowed else 403)


@pytest.mark.parametrize("url", [*API, *ADMIN, *DESK_PAGES])
@pytest.mark.django_db
def test_anonymous_and_role_less_users_get_nothing(client, api_client, url):
    anonymous = (api_client if url.startswith("/api/") else client).get(url)
    assert anonymous.status_code in {401, 302}

    drifter = UserFactory(role=None)
    if url.startswith("/api/"):
        api_client.force_authenticate(drifter)
        assert api_client.get(url).status_code == 403
    else:
        client.force_login(drifter)
        assert client.get(url).status_code == 403


@pytest.mark.parametrize(("role", "allowed"), [(DESK, False), (THERAPIST, True), (ASSISTANT, True), (MANAGER, True)])
@pytest.mark.django_db
def test_a_patients_progress_is_clinical(api_client, role, allowed):
    from tests.factories import PatientFactory

    api_client.force_authenticate(UserFactory(role=role))

    status = api_client.get(f"/api/v1/patients/{PatientFactory().pk}/progress/").status_code

    assert status == (200 if allowed else 403)


def test_every_admin_model_is_in_the_matrix():
    registered = {f"/admin/{m._meta.app_label}/{m._meta.model_name}/" for m in admin.site._registry}
    assert registered <= set(ADMIN), registered - set(ADMIN)
