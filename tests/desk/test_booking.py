"""Booking from free slots, rescheduling, cancelling, check-in, no-show and series on the desk pages."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from apps.scheduling.models import Appointment, AppointmentStatus, RecurringSeries, TimeOff
from tests.desk.conftest import field_error, form_error, text
from tests.factories import AppointmentFactory, PatientFactory, ReferralFactory, TherapistFactory, appointment_kind

pytestmark = pytest.mark.usefixtures("monday_morning")

TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def book_url(patient, **search):
    url = reverse("desk:patient-book", args=[patient.pk])
    if search:
        url += "?" + "&".join(f"{key}={value}" for key, value in search.items())
    return url


def booking(physio, kind="initial_assessment", **fields):
    return {"therapist": physio.pk, "kind": appointment_kind(kind).pk, "date": "2026-11-24", "start_time": "10:00",
            **fields}


# ---------------------------------------------------------------------------- booking


def test_free_slots_are_shown_as_buttons_for_the_chosen_kind_and_dates(desk, physio, patient):
    AppointmentFactory(therapist=physio, start=TUESDAY_10, kind=appointment_kind("initial_assessment"))

    response = desk.get(book_url(patient, kind=appointment_kind("initial_assessment").pk,
                                 start_date="2026-11-24", end_date="2026-11-24"))

    assert response.status_code == 200
    page = text(response)
    assert "Tuesday 24 November 2026" in page
    assert "Book Initial assessment on Tuesday 24 November at 09:00 with Ann Physio" in response.content.decode()
    assert "09:00-10:00 · Ann Physio" in page
    assert "10:00-11:00 · Ann Physio" not in page  # taken
    assert "10:15-11:15 · Ann Physio" not in page  # overlaps the 10:00-11:00 one
    assert "11:00-12:00 · Ann Physio" in page


def test_a_bad_search_is_explained_next_to_the_field(desk, physio, patient):
    response = desk.get(book_url(patient, kind=appointment_kind().pk, start_date="2026-11-26", end_date="2026-11-24"))

    assert field_error(response, "end_date") == "The last day must not be before the first."
    assert "Free slots" not in text(response)


def test_the_front_desk_books_a_free_slot_and_lands_on_the_patient_page(
    desk, frontdesk, physio, patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(book_url(patient, kind=appointment_kind("initial_assessment").pk,
                                      start_date="2026-11-24", end_date="2026-11-24"), booking(physio), follow=True)

    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.therapist, appointment.booked_by) == (patient, physio, frontdesk)
    assert (appointment.start, appointment.end) == (TUESDAY_10, datetime(2026, 11, 24, 11, 0, tzinfo=UTC))
    assert response.redirect_chain[-1][0] == reverse("desk:patient", args=[patient.pk])
    page = text(response)
    assert "Booked Initial assessment with Ann Physio on Tue 24 Nov 2026 10:00." in page
    assert "Tue 24 Nov 2026, 10:00-11:00 Initial assessment Ann Physio Booked" in page


def test_times_are_entered_and_shown_in_the_clinics_time_zone(desk, physio, patient, settings):
    settings.CLINIC_TIME_ZONE = settings.TIME_ZONE = "America/New_York"  # UTC-5 in November

    response = desk.post(book_url(patient), booking(physio, start_time="09:00"), follow=True)

    assert Appointment.objects.get().start == datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    assert "Tue 24 Nov 2026, 09:00-10:00" in text(response)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"start_time": "07:00"}, "start_time", "This is outside Ann Physio's working hours."),
        ({"date": "2026-11-28"}, "start_time", "This is outside Ann Physio's working hours."),  # a Saturday
        ({"date": "2026-11-20"}, "start_time", "This time has already passed."),
        ({"start_time": "11:00", "end_time": "10:30"}, "end_time", "The end must be after the start."),
        ({"date": "2026-11-24x"}, "date", "Enter a valid date."),
        ({"therapist": ""}, "therapist", "This field is required."),
    ],
)
def test_a_bad_booking_is_refused_with_the_problem_next_to_its_field(desk, physio, patient, fields, field, message):
    response = desk.post(book_url(patient), booking(physio, **fields))

    assert response.status_code == 200
    assert field_error(response, field) == message
    assert not Appointment.objects.exists()


def test_an_overlapping_booking_is_refused_and_names_the_clash(desk, physio, patient):
    AppointmentFactory(therapist=physio, start=TUESDAY_10, kind=appointment_kind("follow_up"))

    response = desk.post(book_url(patient), booking(physio, start_time="09:30"))

    assert field_error(response, "start_time") == (
        "Ann Physio already has an appointment from Tue 24 Nov 10:00 to 10:30.")
    assert Appointment.objects.count() == 1


def test_time_off_is_refused(desk, physio, patient):
    TimeOff.objects.create(therapist=physio, start=TUESDAY_10, end=datetime(2026, 11, 24, 17, 0, tzinfo=UTC))

    response = desk.post(book_url(patient), booking(physio, start_time="10:00"))

    assert field_error(response, "start_time") == "Ann Physio is off at this time."
    assert not Appointment.objects.exists()


def test_an_archived_patient_cannot_be_booked(desk, physio, patient):
    patient.archived_at = datetime(2026, 11, 1, tzinfo=UTC)
    patient.save()

    response = desk.post(book_url(patient), booking(physio))

    assert form_error(response) == "This patient is archived: restore the record before booking."
    assert "This patient's record is archived" in text(response)
    assert not Appointment.objects.exists()


def test_only_a_manager_may_book_a_deliberate_overlap(client, manager, frontdesk, physio, patient):
    AppointmentFactory(therapist=physio, start=TUESDAY_10, kind=appointment_kind("follow_up"))
    client.force_login(frontdesk)
    assert "overlap_reason" not in client.get(book_url(patient)).content.decode()

    client.force_login(manager)
    response = client.post(book_url(patient), booking(physio, kind="follow_up", overlap_reason="Joint session"))

    assert response.status_code == 302
    assert Appointment.objects.filter(patient=patient, overlap_reason="Joint session").exists()


# ---------------------------------------------------------------------------- reschedule and cancel


def test_an_appointment_is_moved_to_a_free_slot(desk, physio, patient):
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10)
    url = reverse("desk:appointment-reschedule", args=[appointment.pk])

    page = desk.get(url + "?start_date=2026-11-25&end_date=2026-11-25")
    assert "Move to Follow-up on Wednesday 25 November at 09:00 with Ann Physio" in page.content.decode()
    response = desk.post(url, {"therapist": physio.pk, "date": "2026-11-25", "start_time": "09:00"}, follow=True)

    appointment.refresh_from_db()
    assert appointment.start == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert "Moved Follow-up to Wed 25 Nov 2026 09:00 with Ann Physio." in text(response)


def test_a_move_onto_another_booking_is_refused_and_nothing_changes(desk, physio, patient):
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10)
    AppointmentFactory(therapist=physio, start=datetime(2026, 11, 25, 9, 0, tzinfo=UTC))

    response = desk.post(reverse("desk:appointment-reschedule", args=[appointment.pk]),
                         {"therapist": physio.pk, "date": "2026-11-25", "start_time": "09:15"})

    assert "Ann Physio already has an appointment" in field_error(response, "start_time")
    appointment.refresh_from_db()
    assert appointment.start == TUESDAY_10


def test_cancelling_needs_a_reason(desk, physio, patient):
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10)
    url = reverse("desk:appointment-cancel", args=[appointment.pk])

    response = desk.post(url, {"reason": "   "})
    assert field_error(response, "reason") == "This field is required."
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED

    response = desk.post(url, {"reason": "Patient is unwell", "next": "/desk/day/2026-11-24/"})
    assert response.status_code == 302 and response.url == "/desk/day/2026-11-24/"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.status_changes.get(to_status="cancelled").reason == "Patient is unwell"


def test_cancel_ignores_a_next_address_on_another_site(desk, physio, patient):
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10)

    response = desk.post(reverse("desk:appointment-cancel", args=[appointment.pk]),
                         {"reason": "Unwell", "next": "https://evil.example/"})

    assert response.url == reverse("desk:patient", args=[patient.pk])


def test_check_in_and_no_show_are_posts_that_follow_the_rules(desk, frontdesk, physio, patient, monday_morning):
    today_9 = AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    other = AppointmentFactory(therapist=physio, start=datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    check_in = reverse("desk:appointment-check-in", args=[today_9.pk])

    assert desk.get(check_in).status_code == 405
    response = desk.post(reverse("desk:appointment-no-show", args=[other.pk]), follow=True)
    assert "An appointment can only be marked as a no-show once it has started." in text(response)

    response = desk.post(check_in, {"next": "/desk/"}, follow=True)
    assert response.redirect_chain == [("/desk/", 302)]
    assert "checked in" in text(response)
    monday_morning.move_to(datetime(2026, 11, 23, 10, 20, tzinfo=UTC))
    desk.force_login(frontdesk)  # the idle session ran out while the clock moved on
    desk.post(reverse("desk:appointment-no-show", args=[other.pk]))

    today_9.refresh_from_db()
    other.refresh_from_db()
    assert (today_9.status, other.status) == (AppointmentStatus.CHECKED_IN, AppointmentStatus.NO_SHOW)


def test_check_out_completes_a_checked_in_visit_only(desk, physio, patient, monday_morning):
    visit = AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    check_out = reverse("desk:appointment-check-out", args=[visit.pk])

    refused = desk.post(check_out, {"next": "/desk/"}, follow=True)  # still only booked
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED and "checked out" not in text(refused)

    desk.post(reverse("desk:appointment-check-in", args=[visit.pk]))
    page = text(desk.get(reverse("desk:patient", args=[patient.pk])))
    assert "Check out" in page
    response = desk.post(check_out, {"next": "/desk/"}, follow=True)
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.COMPLETED and "checked out" in text(response)


# ---------------------------------------------------------------------------- series


def test_a_weekly_series_books_what_is_free_and_lists_the_clashes_with_their_reason(desk, physio, patient):
    AppointmentFactory(therapist=physio, start=datetime(2026, 12, 8, 10, 0, tzinfo=UTC))  # third Tuesday

    response = desk.post(reverse("desk:patient-series", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "therapist": physio.pk, "first_date": "2026-11-24",
        "start_time": "10:00", "interval_weeks": 1, "occurrences": 4,
    })

    page = text(response)
    assert "Booked 3 of 4" in page
    assert "Tue 8 Dec 2026 at 10:00: Ann Physio already has an appointment from Tue 08 Dec 10:00 to 10:30." in page
    assert Appointment.objects.filter(patient=patient, series__isnull=False).count() == 3


def test_a_series_with_nothing_free_saves_nothing(desk, physio, patient):
    response = desk.post(reverse("desk:patient-series", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "therapist": physio.pk, "first_date": "2026-11-28",
        "start_time": "10:00", "interval_weeks": 1, "occurrences": 2,
    })

    assert form_error(response) == "Nothing was booked: every date clashed (see below)."
    assert not RecurringSeries.objects.exists() and not Appointment.objects.exists()


def test_series_fields_are_checked_next_to_the_field(desk, physio, patient):
    response = desk.post(reverse("desk:patient-series", args=[patient.pk]), {
        "kind": appointment_kind("follow_up").pk, "therapist": physio.pk, "first_date": "2026-11-24",
        "start_time": "10:00", "interval_weeks": 0, "occurrences": 53,
    })

    assert field_error(response, "interval_weeks") == "Ensure this value is greater than or equal to 1."
    assert field_error(response, "occurrences") == "Ensure this value is less than or equal to 52."
    assert not Appointment.objects.exists()


def test_booking_pages_show_the_red_flag_alert_but_no_clinical_content(desk, physio):
    patient = PatientFactory()
    ReferralFactory(patient=patient, red_flags=["bladder"], reason="Private clinical story")
    other = TherapistFactory(is_active=False)
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10)

    for url in (book_url(patient), reverse("desk:patient-series", args=[patient.pk]),
                reverse("desk:appointment-reschedule", args=[appointment.pk]),
                reverse("desk:appointment-cancel", args=[appointment.pk])):
        page = text(desk.get(url))
        assert "Red flag: awaiting therapist review" in page, url
        assert "bladder" not in page.lower() and "Private clinical story" not in page, url
        assert other.display_name not in page, url  # inactive therapists are not offered


def _look_up_queries(desk, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = desk.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_slot_look_up_runs_the_same_queries_however_many_slots_and_appointments(desk, physio, patient):
    # session, user, groups, the clinic's policy; the patient, their referrals; the kind asked
    # for, and each form's kinds and therapists (the search form's and the booking form's); the
    # working hours, the grid's policy, the free gaps (on SQLite: the appointments and time off);
    # the session saved.
    kind = appointment_kind("follow_up")
    search = {"kind": kind.pk, "start_date": "2026-11-24", "end_date": "2026-11-27"}
    urls = {"one therapist": book_url(patient, therapist=physio.pk, **search),
            "any therapist": book_url(patient, therapist="", **search)}
    AppointmentFactory(patient=patient, therapist=physio, start=TUESDAY_10, kind=kind)
    appointment = AppointmentFactory(patient=patient, therapist=physio, start=datetime(2026, 11, 25, 9, tzinfo=UTC))
    urls["reschedule"] = reverse("desk:appointment-reschedule", args=[appointment.pk])
    small = {name: _look_up_queries(desk, url) for name, url in urls.items()}

    for hour in range(9, 16):  # more therapists, with their days half booked
        therapist = TherapistFactory()
        for day in (24, 25, 26):
            AppointmentFactory(therapist=therapist, start=datetime(2026, 11, day, hour, tzinfo=UTC), kind=kind)
    large = {name: _look_up_queries(desk, url) for name, url in urls.items()}

    assert large == small
    assert max(large.values()) <= 20, large
    assert "Free slots" in text(desk.get(urls["any therapist"]))
