from django.urls import path

from apps.chart import views

app_name = "chart"

urlpatterns = [
    path("day/", views.day, name="day"),
]
