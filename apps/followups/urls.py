"""Patient pages under their program link: mounted at ``p/<str:token>/log/`` in hipclinic/urls.py."""

from django.urls import path

from apps.followups import views

app_name = "followups"
urlpatterns = [
    path("", views.log_session, name="log"),
    path("<int:log_id>/thanks/", views.thanks, name="thanks"),
    path("<int:log_id>/morning/", views.next_morning, name="morning"),
]
