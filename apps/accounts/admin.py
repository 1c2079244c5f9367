from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from simple_history.admin import SimpleHistoryAdmin

from apps.accounts import services
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


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "role_label", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    history_list_display = ("is_active",)

    # What a clinic manager may edit: no superuser flag, no per-user permissions, and
    # groups limited to the three roles.
    manager_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role", {"fields": ("is_active", "role")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role_label(self, user: User) -> str:
        return user.role.label if user.role else "-"

    def get_fieldsets(self, request, obj=None):
        if obj is None or request.user.is_superuser:
            return super().get_fieldsets(request, obj)
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
        return ("last_login", "date_joined") if not request.user.is_superuser else ()

    def has_change_permission(self, request, obj=None):
        # A manager cannot edit a superuser (that would let them take over the account).
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)
