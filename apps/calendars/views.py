"""The therapist's calendar-feed page and the feed itself.

The feed is opened by calendar apps, which cannot sign in: its secret token is the
credential. A token that is malformed, unknown, revoked, or whose holder is no longer an
active therapist answers 404, the same for each, so a guess learns nothing.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.accounts.access import role_required
from apps.calendars import ical, selectors, services
from apps.calendars.models import CalendarFeed


def feed_url(token: str) -> str:
    return settings.SITE_URL + reverse("calendars:feed", kwargs={"token": token})


# A new address waits in the session between the POST that made it and the page that shows
# it once (as new recovery codes do), so reloading that page never makes another one.
NEW_FEED_SESSION_KEY = "calendars.new_feed_token"


@role_required(*services.FEED_ROLES)
@require_GET
@never_cache
def home(request):
    feed = CalendarFeed.objects.open().filter(user=request.user).first()
    token = request.session.pop(NEW_FEED_SESSION_KEY, None)
    url = feed_url(token) if token and feed is not None and feed.prefix == token[:len(feed.prefix)] else None
    return render(request, "calendars/home.html", {
        "feed": feed, "url": url, "webcal_url": url and "webcal" + url[url.index(":"):],
        "days_back": selectors.DAYS_BACK, "days_ahead": selectors.DAYS_AHEAD,
    })


@role_required(*services.FEED_ROLES)
@require_POST
def issue(request):
    """Make (or replace) the feed, then show its address once on the page."""
    try:
        _feed, token = services.issue_feed(user=request.user, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        request.session[NEW_FEED_SESSION_KEY] = token
    return redirect("calendars:home")


@role_required(*services.FEED_ROLES)
@require_POST
def revoke(request):
    feed = CalendarFeed.objects.open().filter(user=request.user).first()
    if feed is None:
        messages.info(request, "You have no calendar feed to revoke.")
        return redirect("calendars:home")
    try:
        services.revoke_feed(feed=feed, by=request.user)
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, "Your calendar feed is revoked: its address no longer works.")
    return redirect("calendars:home")


@require_safe
def feed(request, token: str):
    found = selectors.feed_from_token(token)
    if found is None:
        raise Http404("No such calendar feed.")
    appointments = list(selectors.feed_appointments(user=found.user, now=timezone.now()))
    body = ical.feed_calendar(appointments)
    # An ETag of the document itself, and no Last-Modified: an appointment moved to another
    # therapist changes this feed although none of the appointments left in it changed, so no
    # date taken from them can say whether the feed did.
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    not_modified = get_conditional_response(request, etag=etag)
    response = not_modified or HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    # The address is a credential: no shared cache keeps the answer, and search engines never list it.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
