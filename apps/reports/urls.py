from django.urls import path

from apps.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("csv/<slug:table>/", views.table_csv, name="csv"),
]
