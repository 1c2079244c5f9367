"""The clinician's pages outside the model admin: the therapist's day, in the admin's look."""

from django.contrib import admin
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.access import role_required
from apps.accounts.roles import Role
from apps.chart.day import therapist_day
from hipclinic.zones import long_date


@role_required(Role.THERAPIST, Role.ASSISTANT, Role.CLINIC_MANAGER)
@require_GET
def day(request):
    """Today's visits with their notes, and what waits on the clinician (the front desk: 403)."""
    today = therapist_day(request.user)
    context = {
        **admin.site.each_context(request),
        "title": f"{'The clinic' if today.whole_clinic else 'Your day'}: {long_date(today.today)}",
        "day": today,
        "can_write_notes": request.user.has_perm("visits.add_visitnote"),
        "is_therapist": request.user.has_role(Role.THERAPIST),
    }
    return render(request, "chart/day.html", context)
