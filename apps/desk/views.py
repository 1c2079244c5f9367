from django.shortcuts import render

from apps.accounts.access import role_required
from apps.accounts.roles import Role

DESK_ROLES = (Role.FRONT_DESK, Role.THERAPIST, Role.CLINIC_MANAGER)


@role_required(*DESK_ROLES)
def home(request):
    return render(request, "desk/home.html")
