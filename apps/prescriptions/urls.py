from django.urls import path

from apps.prescriptions import views

app_name = "prescriptions"
urlpatterns = [
    path("p/<str:token>/", views.patient_program, name="patient-program"),
    path("programs/<int:pk>/handout/", views.handout, name="handout"),
]
