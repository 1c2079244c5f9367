"""Public pages for patients (no account): a waitlist offer opened from its signed link."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.scheduling import services
from apps.scheduling.models import WaitlistOffer


@never_cache
@require_http_methods(["GET", "POST"])
def waitlist_offer(request, token: str):
    """GET shows the offer (never changes anything); POST accepts it, first come first served."""
    offer = services.offer_from_token(token)
    if offer is None:
        return render(request, "scheduling/offer_invalid.html", status=404)
    context = {"offer": offer, "patient_tz": offer.entry.patient.time_zone}
    if request.method == "POST":
        try:
            context["appointment"] = services.accept_waitlist_offer(offer=offer)
        except services.OfferGone:
            offer.refresh_from_db()
            return render(request, "scheduling/offer_gone.html", context, status=409)
        return render(request, "scheduling/offer_accepted.html", context)
    if offer.status == WaitlistOffer.Status.ACCEPTED:
        return render(request, "scheduling/offer_accepted.html", context)
    if offer.status != WaitlistOffer.Status.OPEN:
        return render(request, "scheduling/offer_gone.html", context, status=409)
    return render(request, "scheduling/offer.html", context)
