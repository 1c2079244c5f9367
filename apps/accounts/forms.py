from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from apps.accounts.tasks import send_password_reset_email


class ClinicAuthenticationForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_clinic_staff:
            raise forms.ValidationError(
                "This account has no role in the clinic yet. Ask your clinic manager to give it one.",
                code="no_role",
            )


class QueuedPasswordResetForm(PasswordResetForm):
    """Queues the reset e-mail for the worker, so a slow or failing mail server never
    delays or breaks the page; the worker retries until the message is delivered."""

    def get_users(self, email):
        # Unlike Django's default, staff created without a password (invited) get a
        # link too: it is how they set their first password.
        return get_user_model()._default_manager.filter(email__iexact=email, is_active=True)

    def save(self, request=None, **_kwargs):
        base_url = request.build_absolute_uri("/")
        for user in self.get_users(self.cleaned_data["email"]):
            send_password_reset_email.delay_on_commit(user.pk, base_url)
