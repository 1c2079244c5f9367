from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from apps.accounts import api as accounts_api
from apps.accounts import views as accounts_views
from apps.assessments import api as assessments_api
from apps.billing import api as billing_api
from apps.ops import views as ops_views
from apps.patients import api as patients_api
from apps.prescriptions import api as prescriptions_api
from apps.reports import api as reports_api
from apps.scheduling.api import appointments as appointments_api
from apps.scheduling.api import slots as slots_api
from apps.visits.api import notes as notes_api
from apps.visits.api import plans as plans_api
from apps.webhooks import api as webhooks_api

router = DefaultRouter()
router.include_root_view = False
router.register("users", accounts_api.UserViewSet, basename="user")
router.register("therapists", slots_api.TherapistViewSet, basename="therapist")
router.register("patients", patients_api.PatientViewSet, basename="patient")
router.register("referrals", patients_api.ReferralViewSet, basename="referral")
router.register("appointments", appointments_api.AppointmentViewSet, basename="appointment")
router.register("series", appointments_api.SeriesViewSet, basename="series")
router.register("waitlist", appointments_api.WaitlistViewSet, basename="waitlist")
router.register("assessments", assessments_api.AssessmentViewSet, basename="assessment")
router.register("outcome-measures", assessments_api.OutcomeMeasureViewSet, basename="outcome-measure")
router.register("exercises", prescriptions_api.ExerciseViewSet, basename="exercise")
router.register("programs", prescriptions_api.ProgramViewSet, basename="program")
router.register("plans-of-care", plans_api.PlanOfCareViewSet, basename="plan-of-care")
router.register("visit-notes", notes_api.VisitNoteViewSet, basename="visit-note")
router.register("charges", billing_api.ChargeViewSet, basename="charge")
router.register("invoices", billing_api.InvoiceViewSet, basename="invoice")
router.register("payments", billing_api.PaymentViewSet, basename="payment")
router.register("payers", billing_api.PayerViewSet, basename="payer")
router.register("billing-codes", billing_api.BillingCodeViewSet, basename="billing-code")
router.register("webhook-endpoints", webhooks_api.EndpointViewSet, basename="webhook-endpoint")

api_v1 = [
    path("auth/token/", accounts_api.TokenView.as_view(), name="api-token"),
    path("me/", accounts_api.MeView.as_view(), name="api-me"),
    path("patients/<int:pk>/progress/", assessments_api.ProgressView.as_view(), name="api-patient-progress"),
    path("slots/", slots_api.SlotsView.as_view(), name="api-slots"),
    path("reports/summary/", reports_api.SummaryView.as_view(), name="api-reports-summary"),
    *router.urls,
]

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("accounts/", include("apps.accounts.urls")),
    path("desk/", include("apps.desk.urls")),
    path("chart/", include("apps.chart.urls")),
    path("billing/", include("apps.billing.urls")),
    path("reports/", include("apps.reports.urls")),
    path("fhir/R4/", include("apps.fhir.urls")),
    path("calendars/", include("apps.calendars.urls")),
    path("email/", include("apps.notifications.urls")),
    path("booking/", include("apps.scheduling.urls")),
    path("intake/", include("apps.assessments.urls")),
    path("", include("apps.prescriptions.urls")),
    path("p/<str:token>/log/", include("apps.followups.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its set-up script as a file: no inline script, so the CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = ops_views.page_not_found

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
