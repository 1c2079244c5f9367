from django.urls import path

from apps.assessments import views

app_name = "assessments"
urlpatterns = [
    path("<str:token>/", views.intake_questionnaire, name="intake"),
    path("<str:token>/thanks/", views.intake_thanks, name="intake-thanks"),
]
