"""Reads for calendar feeds: the feed a token names, and the appointments it shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.calendars import tokens
from apps.calendars.models import CalendarFeed
from apps.calendars.services import FEED_ROLES
from apps.scheduling.models import Appointment

# What a feed covers, by the appointment's start: a month back (so last week's cancellations
# reach calendars that were offline) and six months ahead (a block of follow-ups).
DAYS_BACK = 30
DAYS_AHEAD = 180


def feed_from_token(token: str) -> CalendarFeed | None:
    """The open feed a token opens, or None (malformed, unknown, revoked, or its holder no longer may)."""
    if not tokens.well_formed(token):
        return None
    candidates = (CalendarFeed.objects.open().filter(prefix=tokens.prefix_of(token))
                  .select_related("user").prefetch_related("user__groups"))
    # Check every candidate, so the time taken does not depend on which one matches.
    found = [feed for feed in candidates if tokens.matches(token, feed.token_hash)]
    if not found or not found[0].user.has_role(*FEED_ROLES):
        return None  # a deactivated account, or one whose role changed: its feed stops
    return found[0]


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=DAYS_BACK), now + timedelta(days=DAYS_AHEAD)


def feed_appointments(*, user: User, now: datetime):
    """The user's appointments in the window, every status, with the number of changes each has had.

    The count comes from the appointment's history (simple-history writes one "changed" row
    for every save after booking: a reschedule, a check-in, a cancellation), so it only grows
    and is the event's SEQUENCE. Only the fields the feed shows are read: never a name.
    """
    history = Appointment.history.model
    changes = (history.objects.filter(id=OuterRef("pk"), history_type="~").order_by()
               .values("id").annotate(n=Count("history_id")).values("n"))
    since, until = feed_window(now)
    return (Appointment.objects.filter(therapist__user=user, start__gte=since, start__lt=until)
            .select_related("kind", "patient")
            .only("id", "start", "end", "status", "created_at", "updated_at", "kind__name", "patient__record_number")
            .annotate(changes=Coalesce(Subquery(changes, output_field=IntegerField()), Value(0)))
            .order_by("start", "id"))
