"""Registering and finding patients; referrals; archiving instead of deleting."""

from datetime import date

import pytest

from apps.patients.models import Patient, Referral
from tests.factories import AppointmentFactory, PatientFactory, ReferralFactory
from tests.openapi import assert_documented, served_schema

PATIENT = {
    "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1960-12-10", "sex": "female",
    "email": "ada@example.org", "phone": "+442079460000", "time_zone": "Europe/London", "email_consent": True,
}


@pytest.mark.django_db
def test_a_registered_patient_gets_a_record_number_and_the_contract_fields(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/patients/", PATIENT, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["record_number"] == f"HC{body['id']:06d}"
    assert {key: body[key] for key in PATIENT} == PATIENT
    assert body["email_consent_changed_at"]  # consent given at registration is time-stamped


@pytest.mark.parametrize(
    ("field", "value"),
    [("date_of_birth", "2999-01-01"), ("email", "not-an-email"), ("phone", "12"), ("time_zone", "Mars/Base"),
     ("sex", "banana"), ("first_name", "Ada\x00")],
)
@pytest.mark.django_db
def test_bad_patient_fields_are_named_in_a_400(api_client, frontdesk, field, value):
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/patients/", {**PATIENT, field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("lovelace", ["Ada"]), ("Ada Love", ["Ada"]), ("HC{pk:06d}", ["Ada"]), ("ADA@example.org", ["Ada"]),
     ("1960-12-10", ["Ada"]), ("020 7946 0000", ["Ada"]), ("Hopper", ["Grace"]), ("nobody", [])],
)
@pytest.mark.django_db
def test_patients_are_found_by_name_record_number_email_phone_or_birth_date(api_client, frontdesk, query, expected):
    ada = PatientFactory(first_name="Ada", last_name="Lovelace", email="ada@example.org", phone="+442079460000",
                         date_of_birth=date(1960, 12, 10))
    PatientFactory(first_name="Grace", last_name="Hopper", phone="+15555550123", date_of_birth=date(1906, 12, 9))
    api_client.force_authenticate(frontdesk)

    results = api_client.get("/api/v1/patients/", {"q": query.format(pk=ada.pk)}).json()["results"]

    assert [p["first_name"] for p in results] == expected


@pytest.mark.django_db
def test_patients_are_archived_not_deleted_and_leave_the_default_list(api_client, frontdesk):
    patient = PatientFactory()
    api_client.force_authenticate(frontdesk)

    assert api_client.delete(f"/api/v1/patients/{patient.pk}/").status_code in {403, 405}
    assert Patient.objects.filter(pk=patient.pk).exists()
    assert api_client.post(f"/api/v1/patients/{patient.pk}/archive/").json()["archived"] is True
    assert api_client.get("/api/v1/patients/").json()["count"] == 0
    assert api_client.get("/api/v1/patients/?archived=true").json()["count"] == 1
    patient.refresh_from_db()
    assert patient.history.first().history_change_reason == "archived"


@pytest.mark.django_db
def test_a_patient_with_upcoming_appointments_cannot_be_archived(api_client, frontdesk):
    appointment = AppointmentFactory()
    api_client.force_authenticate(frontdesk)

    response = api_client.post(f"/api/v1/patients/{appointment.patient.pk}/archive/")

    assert response.status_code == 400
    assert "upcoming appointment" in " ".join(response.json()["patient"])


@pytest.mark.django_db
def test_a_transpsoas_referral_needs_its_surgery_date(api_client, frontdesk):
    patient = PatientFactory()
    api_client.force_authenticate(frontdesk)
    body = {"patient": patient.pk, "cause": "transpsoas_surgery", "referral_date": "2026-11-01"}

    missing = api_client.post("/api/v1/referrals/", body, format="json")
    assert missing.status_code == 400 and "surgery_date" in missing.json()

    ok = api_client.post("/api/v1/referrals/", {**body, "surgery_date": "2026-10-20"}, format="json")
    assert ok.status_code == 201, ok.json()


@pytest.mark.django_db
def test_an_other_cause_must_be_described(api_client, frontdesk):
    api_client.force_authenticate(frontdesk)

    response = api_client.post("/api/v1/referrals/", {"patient": PatientFactory().pk, "cause": "other"}, format="json")

    assert response.status_code == 400 and "cause_other" in response.json()


@pytest.mark.django_db
def test_the_front_desk_sees_a_red_flag_alert_but_never_the_screen_itself(api_client, frontdesk, therapist):
    referral = ReferralFactory(red_flags=["weight_loss", "constant_night_pain"], reason="Night pain for 3 months")

    api_client.force_authenticate(frontdesk)
    patient = api_client.get(f"/api/v1/patients/{referral.patient.pk}/").json()
    desk_view = api_client.get(f"/api/v1/referrals/{referral.pk}/").json()
    assert patient["red_flag_alert"] is True
    assert "red_flags" not in desk_view and "reason" not in desk_view
    assert desk_view["red_flag_unresolved"] is True

    api_client.force_authenticate(therapist)
    clinical_view = api_client.get(f"/api/v1/referrals/{referral.pk}/").json()
    assert clinical_view["red_flags"] == ["weight_loss", "constant_night_pain"]


@pytest.mark.django_db
def test_a_therapist_decision_closes_the_red_flag_alert(therapist, frontdesk):
    from django.core.exceptions import ValidationError

    from apps.patients import services

    referral = ReferralFactory(red_flags=["trauma"])
    with pytest.raises(ValidationError):
        services.record_red_flag_decision(referral=referral, decision="cleared", note="GP review", decided_by=frontdesk)

    services.record_red_flag_decision(referral=referral, decision="cleared", note="GP reviewed the X-ray",
                                      decided_by=therapist)

    referral.refresh_from_db()
    assert not referral.red_flag_unresolved and referral.red_flag_decided_by == therapist
    assert Referral.history.filter(id=referral.pk).count() == 2


@pytest.mark.django_db
def test_changes_to_a_patient_are_kept_in_history(api_client, frontdesk):
    patient = PatientFactory(last_name="Before")
    api_client.force_authenticate(frontdesk)

    api_client.patch(f"/api/v1/patients/{patient.pk}/", {"last_name": "After"}, format="json")

    names = list(patient.history.order_by("history_date").values_list("last_name", flat=True))
    assert names == ["Before", "After"]


@pytest.mark.django_db
def test_withdrawing_consent_is_time_stamped(frontdesk):
    from apps.patients import services

    patient = PatientFactory(email_consent=True)
    first_stamp = patient.email_consent_changed_at

    services.set_email_consent(patient=patient, consent=False)

    patient.refresh_from_db()
    assert patient.email_consent is False and patient.email_consent_changed_at > first_stamp
    assert not patient.can_receive_email


# ---------------------------------------------------------------------------- found by API fuzzing


@pytest.mark.parametrize("query", [{"email_consent": "ture"}, {"email_consent": ""}, {"sex": ""},
                                   {"archived": "yes"}])
@pytest.mark.django_db
def test_a_filter_that_cannot_be_read_is_refused_not_dropped(api_client, frontdesk, query):
    # ?email_consent=ture listed every patient, consenting or not, as if no filter had been asked.
    PatientFactory(email_consent=True)
    PatientFactory(email_consent=False)
    api_client.force_authenticate(frontdesk)

    response = api_client.get("/api/v1/patients/", query)

    assert response.status_code == 400 and set(query) <= set(response.json())
    assert api_client.get("/api/v1/patients/", {"email_consent": "false"}).json()["count"] == 1


@pytest.mark.django_db
def test_an_undecided_red_flag_answers_as_the_schema_says(api_client, therapist):
    # The schema listed only the two decisions; an undecided referral answers "".
    referral = ReferralFactory(red_flags=["trauma"])
    api_client.force_authenticate(therapist)

    response = api_client.get(f"/api/v1/referrals/{referral.pk}/")

    assert response.json()["red_flag_decision"] == ""
    assert_documented(served_schema(api_client), response, "GET", "/api/v1/referrals/{id}/")
