from django.urls import path

from apps.scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("offer/<str:token>/", views.waitlist_offer, name="waitlist-offer"),
]
