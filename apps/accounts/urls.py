from django.contrib.auth import views as auth_views
from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("two-factor/", views.two_factor_settings, name="two_factor"),
    path("two-factor/code/", views.two_factor_verify, name="two_factor_verify"),
    path("two-factor/set-up/", views.two_factor_enrol, name="two_factor_enrol"),
    path("two-factor/recovery-codes/", views.two_factor_recovery_codes, name="two_factor_recovery_codes"),
]
