from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from apps.accounts import api as accounts_api
from apps.accounts import views as accounts_views
from apps.ops import views as ops_views

router = DefaultRouter()
router.include_root_view = False
router.register("users", accounts_api.UserViewSet, basename="user")

api_v1 = [
    path("auth/token/", accounts_api.TokenView.as_view(), name="api-token"),
    path("me/", accounts_api.MeView.as_view(), name="api-me"),
    *router.urls,
]

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("healthz", ops_views.healthz, name="healthz"),
    path("accounts/", include("apps.accounts.urls")),
    path("desk/", include("apps.desk.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
