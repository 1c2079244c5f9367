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


class OneTimeCodeForm(forms.Form):
    code = forms.CharField(
        label="One-time code", max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}),
        help_text="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
    )


class EnrolmentCodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app", max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code the app shows for hipclinic, to check it is set up right.",
    )


class ConfirmIdentityForm(forms.Form):
    """Password and current code again, before changing one's own two-factor sign-in."""

    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)
    code = forms.CharField(
        label="One-time code", max_length=32, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
        help_text="The code your authenticator app shows now, or a recovery code (a lost phone: use a recovery code).",
    )
