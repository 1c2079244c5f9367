"""Public pages for patients (no account): the intake questionnaire opened from its signed link."""

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from apps.assessments import intake
from apps.assessments.intake_forms import IntakeForm
from apps.assessments.scoring import nprs, psfs
from hipclinic.errors import place_errors

# The field a service error is shown next to (the form catches these first; this is the backstop).
SERVICE_ERROR_FIELDS = {"nprs": "nprs"}


def _closed_reason(invitation) -> str:
    if invitation.completed_at is not None:
        return "completed"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired"  # also an archived patient: the link simply no longer works


def _closed(request, invitation):
    return render(request, "assessments/intake_closed.html", {"reason": _closed_reason(invitation)}, status=410)


def _invalid(request):
    return render(request, "assessments/intake_invalid.html", status=404)


@never_cache
@require_http_methods(["GET", "POST"])
def intake_questionnaire(request, token: str):
    """GET shows the questionnaire (never changes anything); POST saves the answers once."""
    invitation = intake.invitation_from_token(token)
    if invitation is None:
        return _invalid(request)
    if not intake.is_usable(invitation):
        return _closed(request, invitation)
    form = IntakeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        pain, lefs_items, activities = form.answers()
        try:
            intake.submit_intake(invitation=invitation, nprs=pain, lefs=lefs_items, psfs=activities)
        except intake.IntakeClosed:
            invitation.refresh_from_db()
            return _closed(request, invitation)
        except ValidationError as error:
            place_errors(error, [form], field_map=SERVICE_ERROR_FIELDS)
        else:
            return redirect("assessments:intake-thanks", token=token)
    status = 400 if form.is_bound else 200
    context = {"form": form, "nprs_question": nprs.QUESTION, "psfs_hint": psfs.SCALE_HINT}
    return render(request, "assessments/intake.html", context, status=status)


@never_cache
@require_GET
def intake_thanks(request, token: str):
    invitation = intake.invitation_from_token(token)
    if invitation is None:
        return _invalid(request)
    if invitation.completed_at is None:
        return redirect("assessments:intake", token=token)
    return render(request, "assessments/intake_thanks.html")
