from django.core import signing
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.notifications import services
from apps.patients.services import set_email_consent


# CSRF-exempt: mail clients send RFC 8058's one-click POST with no cookie or token.
# The signed token in the URL is the credential, and the only thing a forged request
# could do is what the link's owner asked for: stop the e-mails.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    """GET: ask to confirm (link scanners only GET); POST (button or one-click): withdraw consent."""
    try:
        patient = services.patient_for_unsubscribe_token(token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    if patient is None:
        return render(request, "notifications/unsubscribe_invalid.html", status=404)
    if request.method == "POST":
        set_email_consent(patient=patient, consent=False)  # the patient's own choice: no staff user
        return render(request, "notifications/unsubscribe_done.html")
    return render(request, "notifications/unsubscribe_confirm.html", {"already": not patient.email_consent})
