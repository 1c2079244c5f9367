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
from django.utils.http import http_date
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.accounts.access import role_required
from apps.calendars import ical, selectors, services
from apps.calendars.models import CalendarFeed


def feed_url(token: str) -> str:
    return settings.SITE_URL + reverse("calendars:feed", kwargs={"token": token})


def _page(request, *, token: str | None = None, status: int = 200):
    feed = CalendarFeed.objects.open().filter(user=request.user).first()
    url = feed_url(token) if token else None
    return render(request, "calendars/home.html", {
        "feed": feed, "url": url, "webcal_url": url and "webcal" + url[url.index(":"):],
        "days_back": selectors.DAYS_BACK, "days_ahead": selectors.DAYS_AHEAD,
    }, status=status)


@role_required(*services.FEED_ROLES)
@require_GET
@never_cache
def home(request):
    return _page(request)


@role_required(*services.FEED_ROLES)
@require_POST
@never_cache
def issue(request):
    """Make (or replace) the feed; the page that answers is the only place its address is ever shown."""
    try:
        _feed, token = services.issue_feed(user=request.user, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("calendars:home")
    return _page(request, token=token)


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
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last_modified = max((a.updated_at for a in appointments), default=found.created_at)
    last_modified = max(last_modified, found.created_at).timestamp()
    not_modified = get_conditional_response(request, etag=etag, last_modified=int(last_modified))
    response = not_modified or HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    # The address is a credential: no shared cache keeps the answer, and search engines never list it.
    response["Cache-Control"] = "private, no-cache"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
