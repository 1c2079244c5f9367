from django.urls import path

from apps.billing import views

app_name = "billing"
urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<int:patient_id>/", views.patient_billing, name="patient"),
    path("patients/<int:patient_id>/invoice/", views.patient_invoice, name="patient-invoice"),
    path("patients/<int:patient_id>/payment/", views.patient_payment, name="patient-payment"),
    path("patients/<int:patient_id>/superbill/", views.patient_superbill, name="patient-superbill"),
]
