from datetime import date

from django.urls import path, register_converter

from apps.desk import views


class IsoDateConverter:
    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        return date.fromisoformat(value)  # ValueError (e.g. 2025-02-30) makes the pattern not match: 404

    def to_url(self, value: date) -> str:
        return value.isoformat()


register_converter(IsoDateConverter, "isodate")

app_name = "desk"
urlpatterns = [
    path("followups/", views.followups, name="followups"),
    path("", views.home, name="home"),
    path("day/<isodate:day>/", views.day, name="day"),
    path("patients/", views.patient_search, name="patients"),
    path("patients/new/", views.patient_register, name="patient-new"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient"),
    path("patients/<int:patient_id>/book/", views.patient_book, name="patient-book"),
    path("patients/<int:patient_id>/series/", views.patient_series, name="patient-series"),
    path("patients/<int:patient_id>/waitlist/", views.patient_waitlist_add, name="patient-waitlist"),
    path("patients/<int:patient_id>/archive/", views.patient_archive, name="patient-archive"),
    path("patients/<int:patient_id>/restore/", views.patient_restore, name="patient-restore"),
    path("appointments/<int:appointment_id>/reschedule/", views.appointment_reschedule,
         name="appointment-reschedule"),
    path("appointments/<int:appointment_id>/cancel/", views.appointment_cancel, name="appointment-cancel"),
    path("appointments/<int:appointment_id>/check-in/", views.appointment_check_in, name="appointment-check-in"),
    path("appointments/<int:appointment_id>/check-out/", views.appointment_check_out, name="appointment-check-out"),
    path("appointments/<int:appointment_id>/no-show/", views.appointment_no_show, name="appointment-no-show"),
    path("waitlist/", views.waitlist, name="waitlist"),
]
