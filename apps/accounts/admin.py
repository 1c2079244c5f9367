from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from simple_history.admin import SimpleHistoryAdmin

from apps.accounts import services, two_factor
from apps.accounts.models import User
from apps.accounts.roles import Role


class StaffChangeForm(UserChangeForm):
    """A clinic manager's view of a staff account: one role, chosen from the three."""

    role = forms.TypedChoiceField(choices=[("", "No role (cannot sign in)"), *Role.choices], required=False,
                                  coerce=Role, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["role"] = self.instance.role


# django-otp's own admin pages show authenticators' secret keys and recovery codes: a device
# is set up by its owner (/accounts/two-factor/) and reset from the staff member's row.
# (django-otp's apps come before this one in INSTALLED_APPS, so their admin modules ran first.)
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "role_label", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    history_list_display = ("is_active",)
    actions = ["reset_two_factor"]

    # What a clinic manager may edit: no superuser flag, no per-user permissions, and
    # groups limited to the three roles.
    manager_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role", {"fields": ("is_active", "role")}),
        ("Sign-in", {"fields": ("two_factor_status",)}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role_label(self, user: User) -> str:
        return user.role.label if user.role else "-"

    @admin.display(description="two-factor sign-in")
    def two_factor_status(self, user: User) -> str:
        if two_factor.has_two_factor(user):
            left = two_factor.recovery_codes_left(user)
            return f"On ({left} recovery code{'s' if left != 1 else ''} left)"
        if two_factor.two_factor_required(user):
            return "Not set up yet: asked at the next sign-in"
        return "Off"

    @admin.action(description="Reset two-factor sign-in (lost phone)", permissions=["change"])
    def reset_two_factor(self, request, queryset):
        # A manager cannot change a superuser, so cannot reset one either.
        users = [user for user in queryset if request.user.is_superuser or not user.is_superuser]
        for user in users:
            services.reset_two_factor(user=user, reset_by=request.user)
        self.message_user(request, f"Two-factor sign-in reset for {len(users)} staff member(s): each sets up a "
                                   "new authenticator app at their next sign-in.", messages.SUCCESS)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return [*super().get_fieldsets(request, obj), ("Sign-in", {"fields": ("two_factor_status",)})]
        return self.manager_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None and not request.user.is_superuser:
            kwargs["form"] = StaffChangeForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        # A manager's form has the one role; a superuser's full form (and the add form) saves its groups itself.
        role = form.cleaned_data.get("role", obj.role if obj.pk else None)
        services.save_staff(user=obj, role=role, changed_by=request.user)

    def get_readonly_fields(self, request, obj=None):
        return ("last_login", "date_joined", "two_factor_status") if not request.user.is_superuser \
            else ("two_factor_status",)

    def has_change_permission(self, request, obj=None):
        # A manager cannot edit a superuser (that would let them take over the account).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)
