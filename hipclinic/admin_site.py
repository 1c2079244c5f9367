"""hipclinic's admin site: role-based entry and the clinic's one login page."""

from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse


class HipclinicAdminSite(admin.AdminSite):
    site_header = "hipclinic"
    site_title = "hipclinic admin"
    index_title = "Clinic administration"

    def has_permission(self, request) -> bool:
        # Entry is by role, not by the is_staff flag; each page then checks the
        # role's model permissions, so the front desk sees no clinical models.
        user = request.user
        return user.is_authenticated and user.is_clinic_staff

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def guarded(request, *args, **kwargs):
            # A signed-in user without a role gets 403 at once, not a redirect loop.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return guarded

    def login(self, request, extra_context=None):
        """Send people to the clinic's login page; a signed-in user without a role gets 403."""
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"))

