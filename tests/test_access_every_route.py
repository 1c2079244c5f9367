"""Who may open what, route by route: every desk page, every API endpoint and every admin page.

``test_access_matrix.py`` covers the lists; this covers each route a URL pattern
defines, with real objects for its ids, for anonymous visitors, users without a role,
the front desk, therapists and clinic managers. A route added later fails
``test_every_route_has_a_row`` until its row says who may use it.
"""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from axes.models import AccessLog as AxesAccessLog
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.roles import ROLE_PERMISSIONS
from apps.assessments.models import Assessment, OutcomeMeasure
from apps.followups.models import ProgressionProposal, SessionLog
from apps.notifications.services import queue_email
from apps.ops.models import AccessLog
from apps.prescriptions.models import Exercise
from apps.scheduling.models import TimeOff, WaitlistEntry
from tests.factories import AppointmentFactory, ReferralFactory, TherapistFactory, UserFactory, appointment_kind
from tests.followups.test_logging import token_for

ANON, NOROLE, DESK, THERAPIST, MANAGER = "anonymous", "no role", "front_desk", "therapist", "clinic_manager"
ASSISTANT = "assistant"  # a physical-therapist assistant or student: reads what they treat with, writes daily notes
ROLES = [ANON, NOROLE, DESK, THERAPIST, ASSISTANT, MANAGER]
STAFF, CLINICIANS, NOBODY = {DESK, THERAPIST, MANAGER}, {THERAPIST, MANAGER}, set()
# Assistants read the patients, appointments and clinical records they treat with (never the desk's
# pages, the waitlist or staff accounts) and write nothing here but visit notes.
READERS, CLINICAL_READERS = STAFF | {ASSISTANT}, CLINICIANS | {ASSISTANT}

# Route name -> method -> the roles it serves (everyone else gets 403; anonymous visitors
# get the sign-in page, or 401 from the API). Nobody deletes through the API.
READ_WRITE_STAFF = {"GET": READERS, "POST": STAFF}
STAFF_RECORD = {"GET": READERS, "PATCH": STAFF, "DELETE": NOBODY}
STAFF_ACTION = {"POST": STAFF}
CLINICAL_LIST = {"GET": CLINICAL_READERS, "POST": {THERAPIST}}
CLINICAL_RECORD = {"GET": CLINICAL_READERS, "PATCH": {THERAPIST}, "DELETE": NOBODY}
ROUTES = {
    "home": {"GET": READERS},
    **{f"desk:{name}": {"GET": STAFF} for name in (
        "home", "followups", "day", "patients", "patient-new", "patient", "patient-book", "patient-series",
        "appointment-reschedule", "appointment-cancel", "waitlist")},
    **{f"desk:{name}": {"POST": STAFF} for name in (
        "patient-waitlist", "patient-archive", "patient-restore", "appointment-check-in", "appointment-check-out",
        "appointment-no-show")},
    # The desk's billing pages: amounts, invoices and payments, for the front desk and managers (a therapist
    # sees the charges of their own notes in the admin; a patient's billing page shows everyone's).
    **{f"billing:{name}": {"GET": {DESK, MANAGER}} for name in ("home", "patient")},
    **{f"billing:{name}": {"POST": {DESK, MANAGER}} for name in ("patient-invoice", "patient-payment",
                                                                                "patient-superbill")},
    "prescriptions:handout": {"GET": CLINICAL_READERS},
    "chart:day": {"GET": CLINICAL_READERS},  # the therapist's day: clinical, so never the front desk
    # The clinic's numbers: managers, and therapists for their own figures.
    "reports:dashboard": {"GET": {THERAPIST, MANAGER}}, "reports:csv": {"GET": {THERAPIST, MANAGER}},
    "api-me": {"GET": READERS},
    "api-patient-progress": {"GET": CLINICAL_READERS},
    "api-slots": {"GET": READERS},
    "api-reports-summary": {"GET": {THERAPIST, MANAGER}},  # 400 here (no dates) to those who may
    "api-schema": {"GET": READERS},
    "api-docs": {"GET": READERS},
    "user-list": {"GET": {MANAGER}, "POST": {MANAGER}},
    "user-detail": {"GET": {MANAGER}, "PATCH": {MANAGER}, "DELETE": NOBODY},
    "therapist-list": {"GET": READERS},  # read-only: therapists and their hours are kept in the admin
    "therapist-detail": {"GET": READERS},
    "patient-list": READ_WRITE_STAFF, "patient-detail": STAFF_RECORD, "patient-archive": STAFF_ACTION,
    "referral-list": READ_WRITE_STAFF, "referral-detail": STAFF_RECORD,
    "appointment-list": READ_WRITE_STAFF, "appointment-detail": STAFF_RECORD,
    **{f"appointment-{action}": STAFF_ACTION for action in ("cancel", "check-in", "complete", "no-show")},
    "series-list": STAFF_ACTION,
    "waitlist-list": {"GET": STAFF, "POST": STAFF}, "waitlist-detail": {"GET": STAFF, "DELETE": NOBODY},
    "assessment-list": CLINICAL_LIST, "assessment-detail": CLINICAL_RECORD,
    "outcome-measure-list": CLINICAL_LIST, "outcome-measure-detail": CLINICAL_RECORD,
    "exercise-list": CLINICAL_LIST, "exercise-detail": CLINICAL_RECORD,
    "program-list": CLINICAL_LIST, "program-detail": CLINICAL_RECORD,
    "program-activate": {"POST": {THERAPIST}}, "program-stop": {"POST": {THERAPIST}},
    "program-pause": {"POST": {THERAPIST}}, "program-complete": {"POST": {THERAPIST}},
    "program-versions": {"GET": CLINICAL_READERS},
    # Plans of care: therapists write them and record certifications; assistants and managers read.
    "plan-of-care-list": CLINICAL_LIST, "plan-of-care-detail": {"GET": CLINICAL_READERS, "PATCH": {THERAPIST}},
    "plan-of-care-certifications": {"POST": {THERAPIST}},
    # Visit notes: therapists and assistants write, sign and amend (the services refuse an assistant
    # anything but daily notes, and co-signing, with a 400); managers read. A DELETE discards a draft
    # (here a signed note, refused with a 400: never deleted).
    "visit-note-list": {"GET": CLINICAL_READERS, "POST": {THERAPIST, ASSISTANT}},
    "visit-note-detail": {"GET": CLINICAL_READERS, "PATCH": {THERAPIST, ASSISTANT},
                          "DELETE": {THERAPIST, ASSISTANT}},
    **{f"visit-note-{action}": {"POST": {THERAPIST, ASSISTANT}} for action in ("sign", "cosign")},
    "visit-note-addenda": {"GET": CLINICAL_READERS, "POST": {THERAPIST, ASSISTANT}},
    "visit-note-pdf": {"GET": CLINICAL_READERS},
    # FHIR R4, read-only: the roles that read clinical records (401 without credentials, as the API).
    **{f"fhir:{name}": {"GET": CLINICAL_READERS} for name in ("metadata", "search", "read", "everything")},
    # Billing: the front desk sees amounts, invoices and payments and records the last two; therapists read
    # their own charges (another's is a 403, as here) and the payers and codes; managers keep payers, prices
    # and codes; assistants see nothing of billing. The exports answer 400 here (no dates) to those who may.
    "charge-list": {"GET": STAFF}, "charge-detail": {"GET": {DESK, MANAGER}},
    "charge-export": {"GET": {DESK, MANAGER}},
    "invoice-list": {"GET": {DESK, MANAGER}, "POST": {DESK, MANAGER}}, "invoice-detail": {"GET": {DESK, MANAGER}},
    "payment-list": {"GET": {DESK, MANAGER}, "POST": {DESK, MANAGER}}, "payment-detail": {"GET": {DESK, MANAGER}},
    "payment-export": {"GET": {DESK, MANAGER}},
    "payer-list": {"GET": STAFF, "POST": {MANAGER}}, "payer-detail": {"GET": STAFF, "PATCH": {MANAGER}},
    "payer-fees": {"GET": {DESK, MANAGER}, "POST": {MANAGER}},
    "billing-code-list": {"GET": STAFF, "POST": {MANAGER}},
    "billing-code-detail": {"GET": STAFF, "PATCH": {MANAGER}},
    # Webhook endpoints (their secrets included): managers only; turned off, never deleted.
    "webhook-endpoint-list": {"GET": {MANAGER}, "POST": {MANAGER}},
    "webhook-endpoint-detail": {"GET": {MANAGER}, "PATCH": {MANAGER}},
    # One's own two-factor sign-in: set it up, see new recovery codes once, make new ones or move phones.
    "two_factor": {"GET": READERS, "POST": READERS},
    "two_factor_enrol": {"GET": READERS, "POST": READERS},
    "two_factor_recovery_codes": {"GET": READERS},
    # A therapist's own calendar feed: made, replaced and revoked by its holder (managers revoke in the admin).
    "calendars:home": {"GET": {THERAPIST}},
    **{f"calendars:{name}": {"POST": {THERAPIST}} for name in ("issue", "revoke")},
    # FHIR Bulk Data: clinicians start exports (a 400 here: no Prefer header) ...
    "fhir:export": {"GET": CLINICIANS}, "fhir:patient-export": {"GET": CLINICIANS},
}
# ... and poll and download their own: another user's job is not found, whatever their role (the front
# desk and assistants get a 403 first). Tested beside the kick-off (tests/fhir/test_bulk_export.py).
OWN_EXPORTS = {"fhir:export-status", "fhir:export-output"}
# Open without signing in, and why.
PUBLIC = {
    "healthz": "load balancers and monitors; says only ok or not",
    "login": "signing in", "logout": "signing out",
    "two_factor_verify": "signing in, second step: the one-time code for the password just given",
    "password_reset": "asking for a reset e-mail", "password_reset_done": "its confirmation page",
    "password_reset_confirm": "the signed reset link", "password_reset_complete": "its confirmation page",
    "api-token": "exchanging a password for an API token (throttled, lockout by django-axes)",
    "fhir:not-found": "any other address under /fhir/R4/: a FHIR 404 (OperationOutcome), it serves nothing",
}
# Opened by patients through signed links: tampering, expiry, revocation and other patients
# are tested beside each (tests/prescriptions/test_patient_link.py, tests/followups/test_logging.py,
# tests/assessments/test_intake.py, tests/scheduling/test_waitlist.py, tests/notifications/test_unsubscribe.py).
SIGNED_LINKS = {"prescriptions:patient-program", "followups:log", "followups:thanks", "followups:morning",
                "assessments:intake", "assessments:intake-thanks", "scheduling:waitlist-offer",
                "notifications:unsubscribe",
                # A therapist's calendar feed, read by calendar apps that cannot sign in: its secret
                # token is the credential (tests/calendars/test_tokens.py: revoked, replaced, malformed,
                # deactivated holder; tests/calendars/test_feed.py: another therapist's appointments).
                "calendars:feed"}


API_PREFIXES = ("/api/", "/fhir/")  # token or session; 401 without either


def walk(patterns, prefix="", namespace=""):
    """(route, namespaced name, view) of every URL pattern."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace + (pattern.name or ""), pattern.callback


@pytest.fixture
def objects(db, prescribe):
    """One real object behind every id a route takes."""
    therapist_user = UserFactory(role=THERAPIST)
    referral = ReferralFactory(cause="prolonged_sitting")
    patient = referral.patient
    start = datetime(2030, 1, 8, 10, tzinfo=UTC)
    appointment = AppointmentFactory(patient=patient, start=start)
    program = prescribe(patient, therapist_user, "seated-knee-raise")
    waitlist = WaitlistEntry.objects.create(patient=patient, kind=appointment_kind(), earliest=start.date(),
                                            latest=start.date() + timedelta(days=7), created_by=therapist_user)
    assessment = Assessment.objects.create(patient=patient, therapist=therapist_user, pain_now=2)
    measure = OutcomeMeasure.objects.create(patient=patient, measure="nprs", items=[3], score=3, complete=True)
    # One row for every admin page's change form too.
    TimeOff.objects.create(therapist=appointment.therapist, start=start + timedelta(days=30),
                           end=start + timedelta(days=31))
    token_for(patient, therapist_user)
    item = program.items.first()
    SessionLog.objects.create(program=program, session_date=start.date(), submission_key="matrix")
    ProgressionProposal.objects.create(program=program, item=item, action="progress",
                                       current={"sets": 2, "dose_low": 8, "dose_high": 12},
                                       proposed={"sets": 3, "dose_low": 8, "dose_high": 12},
                                       reason="Two easy weeks")
    queue_email(key="matrix", kind="test", to_email="x@example.org", subject="Hello",
                text_template="emails/base.txt", html_template="emails/base.html", context={})
    AccessLog.objects.create(user=therapist_user, record_type="patients.patient", record_id=str(patient.pk),
                             patient_id=patient.pk, via="admin")
    Token.objects.create(user=therapist_user)
    AccessAttempt.objects.create(username="x", ip_address="127.0.0.1", failures_since_start=1)
    AccessFailureLog.objects.create(username="x", ip_address="127.0.0.1", locked_out=False)
    AxesAccessLog.objects.create(username="x", ip_address="127.0.0.1")
    from apps.calendars.services import issue_feed

    issue_feed(user=therapist_user, by=therapist_user)
    # A webhook endpoint: the signature and the invoice below each write a delivery row for it.
    from apps.webhooks.models import WebhookEndpoint
    from apps.webhooks.services import save_endpoint

    endpoint = save_endpoint(endpoint=WebhookEndpoint(url="https://8.8.8.8/hook",
                                                      events=["visit_note.signed", "invoice.issued"]),
                             by=UserFactory(role=MANAGER))
    # A plan of care and a signed visit note (the admin's change pages need a row each).
    from apps.visits import services as visit_services
    from tests.conftest import PASSWORD

    plan_therapist = UserFactory(role=THERAPIST, password=PASSWORD)
    plan = visit_services.create_plan(patient=patient, therapist=plan_therapist, created_by=plan_therapist,
                                      visits_per_week=2, duration_weeks=6, diagnoses=[("M62.81", "")],
                                      started_on=date(2020, 1, 1))
    visit_services.record_certification(plan=plan, signed_on=date(2020, 1, 2), clinician="Dr A. Example",
                                        recorded_by=plan_therapist)
    done = AppointmentFactory(patient=patient, start=datetime(2020, 1, 7, 10, tzinfo=UTC), status="completed")
    note = visit_services.start_note(appointment=done, author=plan_therapist)
    note = visit_services.sign_note(note=note, signer=plan_therapist, password=PASSWORD)
    visit_services.add_addendum(note=note, author=plan_therapist, reason="Late entry", text="Ice 10 min.",
                                password=PASSWORD)
    # Billing: the note's charge (signing billed it), who pays for the episode, an invoice and a payment.
    from apps.billing import services as billing_services
    from apps.billing.models import BillingCode, Charge, Coverage, Payer

    charge = Charge.objects.get(note=note)
    billing_services.set_coverage(coverage=Coverage(plan=plan, payer=Payer.objects.get(kind="self_pay")),
                                  by=plan_therapist)
    desk = UserFactory(role=DESK)
    invoice = billing_services.create_invoice(patient=patient, charges=[charge], created_by=desk)
    payment = billing_services.record_payment(patient=patient, amount=Decimal("5.00"), method="cash",
                                              recorded_by=desk, invoice=invoice, as_credit=True)
    return {
        "plans-of-care": plan.pk, "visit-notes": note.pk,
        "charges": charge.pk, "invoices": invoice.pk, "payments": payment.pk, "webhook-endpoints": endpoint.pk,
        "payers": Payer.objects.first().pk, "billing-codes": BillingCode.objects.first().pk,
        "patient_id": patient.pk, "appointment_id": appointment.pk, "day": "2030-01-08", "table": "attendance",
        "users": therapist_user.pk, "therapists": TherapistFactory().pk, "patients": patient.pk,
        "referrals": referral.pk, "appointments": appointment.pk, "waitlist": waitlist.pk,
        "assessments": assessment.pk, "outcome-measures": measure.pk,
        "exercises": Exercise.objects.first().pk, "programs": program.pk, "program": program.pk,
        "resource_type": "Patient", "resource_id": patient.pk,
    }


def fill(route: str, objects: dict) -> str:
    """The route with real ids: '^patients/(?P<pk>[^/.]+)/archive/$' -> '/api/v1/patients/7/archive/'."""
    path = route.replace("^", "").removesuffix("$")  # a "$" inside is literal: /fhir/R4/Patient/7/$everything
    api = re.match(r"api/v1/([a-z-]+)/\(\?P<pk>", path)
    if api:
        path = re.sub(r"\(\?P<pk>[^)]+\)", str(objects[api.group(1)]), path)
    path = re.sub(r"<int:pk>", str(objects["program"]), path) if path.startswith("programs/") else path
    path = re.sub(r"<int:pk>", str(objects["patient_id"]), path)
    path = re.sub(r"<(?:int|isodate|slug|str):(\w+)>", lambda m: str(objects[m.group(1)]), path)
    return "/" + path


def client_for(role, client, api_client):
    """A signed-in Django test client (pages) and a DRF client (API) for the role."""
    if role == ANON:
        return client, api_client
    user = UserFactory(role=None if role == NOROLE else role)
    client.force_login(user)
    api_client.force_authenticate(user)
    return client, api_client


def routes():
    return [(route, name) for route, name, _view in walk(get_resolver().url_patterns)
            if not route.startswith(("admin/", "^media/")) and "(?P<format>" not in route]


def test_every_route_has_a_row():
    names = {name for _, name in routes()}
    expected = set(ROUTES) | set(PUBLIC) | SIGNED_LINKS | OWN_EXPORTS
    assert names == expected, names ^ expected


def denied(role: str, url: str) -> set[int]:
    if role == ANON:
        return {401} if url.startswith(API_PREFIXES) else {302}
    return {403}


@pytest.mark.parametrize("role", ROLES)
def test_each_route_serves_exactly_the_roles_in_its_row(objects, role):
    client, api_client = client_for(role, Client(), APIClient())
    wrong = []
    for route, name in routes():
        if name not in ROUTES:
            continue
        url = fill(route, objects)
        http = api_client if url.startswith(API_PREFIXES) else client
        for method, allowed in ROUTES[name].items():
            status = getattr(http, method.lower())(url, {} if method in {"POST", "PATCH"} else None).status_code
            if role in allowed and status in {401, 403, 404, 500} | ({302} if role == ANON else set()):
                wrong.append(f"{method} {url}: {status}, but {role} may use it")
            elif role not in allowed and status not in denied(role, url):
                wrong.append(f"{method} {url}: {status}, but {role} may not use it")
            if status == 302 and role == ANON:
                assert "/accounts/login/" in (http.get(url).headers.get("Location") or ""), url
    assert wrong == []


def admin_pages(objects_by_model) -> list[tuple[str, str, str]]:
    """(url, permission codename, app label) for every page of every admin model."""
    pages = []
    for model in admin.site._registry:
        app, name = model._meta.app_label, model._meta.model_name
        base = f"/admin/{app}/{name}/"
        row = objects_by_model[model]
        pages += [(base, f"view_{name}", app), (f"{base}add/", f"add_{name}", app),
                  (f"{base}{row.pk}/change/", f"view_{name}", app), (f"{base}{row.pk}/history/", f"view_{name}", app),
                  (f"{base}{row.pk}/delete/", f"delete_{name}", app)]
    return pages


# Pages the admin never offers, whatever the role holds, and where the work is done instead.
NOT_IN_ADMIN = {
    "scheduling.add_appointment": "booked on the desk pages or the API, which check the rota and overlaps",
    "followups.add_progressionproposal": "proposed by the progression engine from the patient's logs",
    "prescriptions.add_patientlink": "made by the program page's 'patient link' action",
    "scheduling.add_waitlistentry": "patients join the waitlist on the desk pages or through the API",
    "followups.add_followup": "planned when a program is activated",
    "billing.add_invoice": "made on the desk's billing page from a patient's uninvoiced visits (numbered there)",
    "billing.add_payment": "recorded on the desk's billing page, which checks it against the balance",
}

# Lists filtered to the user's own rows: another's row is "not found" (the admin redirects) for these roles.
OWN_ROWS_ONLY = {"/admin/billing/charge/": {THERAPIST}}  # a therapist sees the charges of their own notes


# Lists of one row, which open that row (a redirect) for whoever may see it.
ONE_ROW_LISTS = {"/admin/ops/clinicpolicy/": "the clinic has one policy"}


def roles_holding(app: str, codename: str) -> set[str]:
    if f"{app}.{codename}" in NOT_IN_ADMIN:
        return set()
    holders = {role.value for role, perms in ROLE_PERMISSIONS.items() if f"{app}.{codename}" in perms}
    if codename.startswith("view_"):  # change permission implies view in the admin
        change = codename.replace("view_", "change_", 1)
        holders |= {role.value for role, perms in ROLE_PERMISSIONS.items() if f"{app}.{change}" in perms}
    return holders


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_page_follows_the_role_permissions(objects, role):
    objects_by_model = {model: model._default_manager.first() for model in admin.site._registry}
    assert [m for m, row in objects_by_model.items() if row is None] == []  # every change page has a row to show
    client, _ = client_for(role, Client(), APIClient())
    wrong = []
    for url, codename, app in admin_pages(objects_by_model):
        status = client.get(url).status_code
        if status == 302 and url in ONE_ROW_LISTS and role != ANON:
            status = client.get(url, follow=True).status_code
        allowed = role in roles_holding(app, codename)
        own_only = any(url.startswith(base) and url != base for base, roles in OWN_ROWS_ONLY.items()
                       if role in roles)
        if allowed and own_only and status == 302:
            continue  # the fixture's row is another therapist's
        if allowed and status != 200:
            wrong.append(f"{url}: {status}, but {role} holds {app}.{codename}")
        elif not allowed and status not in denied(role, url):
            wrong.append(f"{url}: {status}, but {role} lacks {app}.{codename}")
    assert wrong == []
