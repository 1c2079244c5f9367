from django.urls import path, re_path

from apps.fhir import bulk_views, views

app_name = "fhir"

urlpatterns = [
    path("metadata", views.MetadataView.as_view(), name="metadata"),
    # Bulk Data Access: before the read routes, so that "$export" is not read as a type, nor
    # "Patient/$export" as a patient's id.
    path("$export", bulk_views.KickOffView.as_view(), name="export"),
    path("Patient/$export", bulk_views.PatientKickOffView.as_view(), name="patient-export"),
    path("$export-status/<uuid:job_id>", bulk_views.StatusView.as_view(), name="export-status"),
    path("$export-output/<uuid:job_id>/<str:name>", bulk_views.OutputView.as_view(), name="export-output"),
    path("Patient/<str:resource_id>/$everything", views.EverythingView.as_view(), name="everything"),
    path("<str:resource_type>", views.SearchView.as_view(), name="search"),
    path("<str:resource_type>/<str:resource_id>", views.ReadView.as_view(), name="read"),
    # Anything else under /fhir/R4/ answers a FHIR 404 (an OperationOutcome), not the HTML page.
    re_path(r"^(?P<rest>.*)$", views.NotFoundView.as_view(), name="not-found"),
]
