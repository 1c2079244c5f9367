from django.urls import path

from apps.calendars import views

app_name = "calendars"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.issue, name="issue"),
    path("revoke/", views.revoke, name="revoke"),
    path("feed/<str:token>.ics", views.feed, name="feed"),
]
