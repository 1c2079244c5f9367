"""Writes to calendar feeds: the page, the admin and tests all go through these."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.calendars import tokens
from apps.calendars.models import CalendarFeed

# Who may hold a feed: therapists, whose appointments are booked against their name.
FEED_ROLES = (Role.THERAPIST,)


def issue_feed(*, user: User, by: User) -> tuple[CalendarFeed, str]:
    """Give the user a new secret feed address, revoking the one they had; the token is returned only here."""
    if not user.has_role(*FEED_ROLES):
        raise ValidationError("Only active therapists have a calendar feed.")
    token = tokens.new_token()
    now = timezone.now()
    try:
        with transaction.atomic():
            list(CalendarFeed.objects.select_for_update().open().filter(user=user))  # one issue at a time per user
            CalendarFeed.objects.open().filter(user=user).update(revoked_at=now, revoked_by=by)
            feed = CalendarFeed.objects.create(
                user=user, prefix=tokens.prefix_of(token), token_hash=tokens.hash_of(token), created_by=by
            )
    except IntegrityError:
        # Two requests at once (a double click): the other one's address stands.
        raise ValidationError("A new address was made a moment ago. Reload the page.") from None
    return feed, token


def revoke_feed(*, feed: CalendarFeed, by: User) -> CalendarFeed:
    """Stop the feed's address for good: from now on it answers 404."""
    # A conditional update: of two revocations at once, one records who and when.
    if not CalendarFeed.objects.open().filter(pk=feed.pk).update(revoked_at=timezone.now(), revoked_by=by):
        raise ValidationError("This calendar feed was already revoked.")
    feed.refresh_from_db()
    return feed
