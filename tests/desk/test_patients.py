"""Finding, registering and looking after patients on the desk pages."""

from datetime import UTC, date, datetime

import pytest
from django.urls import reverse

from apps.patients.models import Patient, Referral
from apps.scheduling.models import WaitlistEntry
from tests.desk.conftest import field_error, form_error, text
from tests.factories import AppointmentFactory, PatientFactory, ReferralFactory, TherapistFactory, appointment_kind

pytestmark = pytest.mark.usefixtures("monday_morning")

NEW = reverse("desk:patient-new")


def registration(**fields):
    return {
        "first_name": "Robin", "last_name": "Newcomer", "date_of_birth": "1970-05-04", "sex": "female",
        "email": "robin@example.org", "phone": "+442079460123", "preferred_contact": "email",
        "email_consent": "on", "notes": "",
        "cause": "hip_osteoarthritis", "cause_other": "", "referring_clinician": "Dr Grey",
        "referral_date": "2026-11-20", "surgery_date": "",
        **fields,
    }


# ---------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("query", "found"),
    [("Example", True), ("pat example", True), ("record number", True), ("PAT@example.org", True),
     ("020 7946 0999", True), ("1980-02-29", True), ("Nobody", False)],
)
def test_patients_are_found_by_name_record_number_email_phone_or_birth_date(desk, query, found):
    pat = PatientFactory(first_name="Pat", last_name="Example", email="pat@example.org", phone="+442079460999",
                         date_of_birth=date(1980, 2, 29))
    PatientFactory(first_name="Other", last_name="Person", date_of_birth=date(1990, 1, 1))
    if query == "record number":
        query = pat.record_number.lower()

    page = text(desk.get(reverse("desk:patients"), {"q": query}))

    assert ("Example, Pat" in page) is found
    assert "Person, Other" not in page


def test_search_is_paged_25_at_a_time(desk):
    PatientFactory.create_batch(27, last_name="Smith")

    first = desk.get(reverse("desk:patients"), {"q": "smith"})
    second = desk.get(reverse("desk:patients"), {"q": "smith", "page": 2})

    assert "27 patients found" in text(first) and "Page 1 of 2" in text(first)
    assert text(first).count("Smith, ") == 25 and text(second).count("Smith, ") == 2
    assert 'href="?q=smith&amp;page=2"' in first.content.decode()


def test_archived_patients_are_found_only_when_asked(desk, patient):
    patient.archived_at = datetime(2026, 11, 1, tzinfo=UTC)
    patient.save()

    assert "Example, Pat" not in text(desk.get(reverse("desk:patients"), {"q": "Example"}))
    assert "Example, Pat" in text(desk.get(reverse("desk:patients"), {"q": "Example", "archived": "on"}))


@pytest.mark.parametrize("rows", [1, 8])
def test_search_runs_the_same_queries_however_many_patients_match(desk, django_assert_num_queries, rows):
    for patient in PatientFactory.create_batch(rows, last_name="Jones"):
        ReferralFactory(patient=patient, red_flags=["bladder"])
    # session, user, user's groups (role), the clinic's policy (does the front desk need two-factor
    # sign-in?); count, one page of patients with the red-flag alert; the session saved again
    # (savepoint, update, release: it renews on every request)
    with django_assert_num_queries(9):
        response = desk.get(reverse("desk:patients"), {"q": "jones"})
    assert text(response).count("Red flag: awaiting therapist review") == rows


# ---------------------------------------------------------------------------- registration


def test_the_front_desk_registers_a_patient_with_a_referral(desk, frontdesk):
    response = desk.post(NEW, registration(), follow=True)

    patient = Patient.objects.get()
    referral = Referral.objects.get()
    assert (patient.full_name, patient.date_of_birth, str(patient.phone)) == (
        "Robin Newcomer", date(1970, 5, 4), "+442079460123")
    assert (referral.patient, referral.cause, referral.referring_clinician) == (
        patient, "hip_osteoarthritis", "Dr Grey")
    assert patient.history.get().history_user == frontdesk
    assert response.redirect_chain[-1][0] == reverse("desk:patient", args=[patient.pk])
    page = text(response)
    assert f"Registered Robin Newcomer as {patient.record_number}." in page
    assert "Referrals Hip osteoarthritis , 20 Nov 2026, from Dr Grey" in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"cause": "transpsoas_surgery"}, "surgery_date",
         "Enter the surgery date for a lateral transpsoas surgery referral."),
        ({"cause": "transpsoas_surgery", "surgery_date": "2026-11-21"}, "surgery_date",
         "The surgery date cannot be after the referral date."),
        ({"cause": "other"}, "cause_other", "Say what the other cause is."),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"phone": "12"}, "phone", "Enter a valid phone number"),
        ({"date_of_birth": "2027-01-01"}, "date_of_birth", "The date of birth cannot be in the future."),
    ],
)
def test_registration_errors_show_next_to_the_field_and_nothing_is_saved(desk, fields, field, message):
    response = desk.post(NEW, registration(**fields))

    assert response.status_code == 200
    assert field_error(response, field).startswith(message)
    assert not Patient.objects.exists() and not Referral.objects.exists()


@pytest.mark.parametrize(
    "clash",
    [{"first_name": "ROBIN", "last_name": "newcomer", "date_of_birth": date(1970, 5, 4), "email": "else@example.org"},
     {"first_name": "Someone", "last_name": "Else", "email": "Robin@Example.org"}],
    ids=["same name and birth date", "same e-mail"],
)
def test_a_possible_duplicate_is_shown_before_a_second_record_is_made(desk, clash):
    existing = PatientFactory(**clash)

    response = desk.post(NEW, registration())

    page = text(response)
    assert "This patient may already be registered" in page
    assert f"{existing.full_name} ({existing.record_number})" in page
    assert field_error(response, "different_person").startswith("A record with the same name and date of birth")
    assert Patient.objects.count() == 1

    response = desk.post(NEW, registration(different_person="on"))
    assert response.status_code == 302
    assert Patient.objects.count() == 2


def test_the_different_person_box_is_not_asked_for_without_duplicates(desk):
    assert 'name="different_person"' not in desk.get(NEW).content.decode()


# ---------------------------------------------------------------------------- patient page


def test_the_patient_page_shows_contact_referrals_appointments_and_the_red_flag_alert(desk, patient):
    ReferralFactory(patient=patient, cause="prolonged_sitting", red_flags=["bowel"], reason="Secret history")
    physio = TherapistFactory(display_name="Ann Physio")
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 16, 10, 0, tzinfo=UTC))

    page = text(desk.get(reverse("desk:patient", args=[patient.pk])))

    assert "Red flag: awaiting therapist review" in page
    assert "pat@example.org" in page and "Prolonged sitting" in page
    assert "Bowel" not in page and "Secret history" not in page
    upcoming, past = page.split("Upcoming appointments", 1)[1].split("Past appointments", 1)
    assert "Tue 24 Nov 2026, 10:00-10:30 Follow-up Ann Physio Booked" in upcoming
    assert "Mon 16 Nov 2026, 10:00-10:30 Follow-up Ann Physio Booked" in past


def test_a_decided_red_flag_no_longer_shows(desk, patient):
    ReferralFactory(patient=patient, red_flags=["bowel"], red_flag_decision="cleared")

    assert "Red flag" not in text(desk.get(reverse("desk:patient", args=[patient.pk])))


@pytest.mark.parametrize("rows", [1, 6])
def test_the_patient_page_runs_the_same_queries_however_many_appointments(desk, patient, django_assert_num_queries,
                                                                          rows):
    physio = TherapistFactory()
    for day in range(rows):
        AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 12, 1 + day, 10, tzinfo=UTC))
        ReferralFactory(patient=patient)
    # session, user, groups, the clinic's policy (two-factor for the front desk?); patient, referrals;
    # appointments; waitlist entries; waitlist form: kinds, therapists, the patient's booked
    # appointments; session saved (3)
    with django_assert_num_queries(14):
        desk.get(reverse("desk:patient", args=[patient.pk]))


def test_archiving_is_refused_while_appointments_are_booked_and_restoring_brings_it_back(desk, patient):
    appointment = AppointmentFactory(patient=patient, start=datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    archive = reverse("desk:patient-archive", args=[patient.pk])

    assert desk.get(archive).status_code == 405
    response = desk.post(archive, follow=True)
    assert "Cancel this patient's 1 upcoming appointment(s) before archiving the record." in text(response)
    patient.refresh_from_db()
    assert not patient.is_archived

    appointment.status = "cancelled"
    appointment.save()
    response = desk.post(archive, follow=True)
    patient.refresh_from_db()
    assert patient.is_archived and "Archived" in text(response)

    desk.post(reverse("desk:patient-restore", args=[patient.pk]))
    patient.refresh_from_db()
    assert not patient.is_archived


# ---------------------------------------------------------------------------- waitlist


def test_a_patient_joins_the_waitlist_and_appears_on_the_waitlist_page(desk, frontdesk, patient):
    ReferralFactory(patient=patient, red_flags=["bowel"])
    response = desk.post(reverse("desk:patient-waitlist", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "therapist": "", "earliest": "2026-11-24",
        "latest": "2026-12-05", "note": "Mornings only",
    }, follow=True)

    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.therapist, entry.created_by, entry.note) == (patient, None, frontdesk, "Mornings only")
    assert "Pat Example is on the waitlist for Follow-up." in text(response)
    page = text(desk.get(reverse("desk:waitlist")))
    assert "Pat Example HC" in page and "Follow-up Any 24 Nov - 5 Dec 2026" in page
    assert "Red flag: awaiting therapist review" in page


def test_a_waitlist_window_in_the_wrong_order_is_refused_next_to_the_field(desk, patient):
    response = desk.post(reverse("desk:patient-waitlist", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "earliest": "2026-11-24", "latest": "2026-11-20",
    })

    assert field_error(response, "latest") == "The last day must not be before the first."
    assert not WaitlistEntry.objects.exists()


def test_an_archived_patient_cannot_join_the_waitlist(desk, patient):
    patient.archived_at = datetime(2026, 11, 1, tzinfo=UTC)
    patient.save()

    response = desk.post(reverse("desk:patient-waitlist", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "earliest": "2026-11-24", "latest": "2026-11-30",
    })

    assert form_error(response) == "This patient is archived."
    assert not WaitlistEntry.objects.exists()
