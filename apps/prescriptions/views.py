"""The patient's program through their signed link, and the printable handout for staff."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from apps.prescriptions import services
from apps.prescriptions.models import Program


@never_cache
def patient_program(request, token: str):
    """One patient's current program; the link opens nothing else and nothing after it expires."""
    link = services.link_from_token(token)
    if link is None:
        return render(request, "prescriptions/link_invalid.html", status=404)
    program = services.current_program(link.patient)
    return render(request, "prescriptions/patient_program.html",
                  {"patient": link.patient, "program": program, "items": program.items.all() if program else []})


@login_required
def handout(request, pk: int):
    """A printable handout (A4 or Letter): instructions, dose and schedule."""
    if not request.user.has_perm("prescriptions.view_program"):
        raise PermissionDenied
    program = get_object_or_404(Program.objects.select_related("patient", "therapist")
                                .prefetch_related("items__exercise"), pk=pk)
    return render(request, "prescriptions/handout.html", {
        "program": program, "patient": program.patient, "items": program.items.all(),
        "weeks": range(1, program.weeks + 1), "sessions": range(1, program.sessions_per_week + 1),
    })
