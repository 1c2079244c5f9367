from django.urls import path

from apps.fhir import bulk_views

app_name = "fhir"

urlpatterns = [
    # Bulk Data Access: before the read routes, so that "Patient/$export" is not read as an id.
    path("$export", bulk_views.KickOffView.as_view(), name="export"),
    path("Patient/$export", bulk_views.PatientKickOffView.as_view(), name="patient-export"),
    path("$export-status/<uuid:job_id>", bulk_views.StatusView.as_view(), name="export-status"),
    path("$export-output/<uuid:job_id>/<str:name>", bulk_views.OutputView.as_view(), name="export-output"),
]
