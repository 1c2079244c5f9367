from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse_lazy

from apps.accounts.forms import ClinicAuthenticationForm, QueuedPasswordResetForm
from apps.accounts.roles import Role


class LoginView(auth_views.LoginView):
    authentication_form = ClinicAuthenticationForm
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm
    success_url = reverse_lazy("password_reset_done")


@login_required
def home(request):
    """Each role starts where its work is: the front desk at the desk, clinicians in the admin."""
    user = request.user
    if not user.is_clinic_staff:
        raise PermissionDenied
    if user.role == Role.FRONT_DESK:
        return redirect("desk:home")
    return redirect("admin:index")
