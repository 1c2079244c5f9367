"""The managers' weekly digest: last week's headline figures and a link to the dashboard.

A reminder scan (``apps.notifications.reminders``), registered in ``ReportsConfig.ready()``:
beat runs it every five minutes. From Monday at the clinic's ``therapist_digest_time``
(clinic time) on, each active user with the clinic-manager role and an e-mail address gets
one e-mail that ISO week, keyed ``manager-digest:<user id>:<ISO week>`` so a second run, or
a concurrent twin, inserts nothing. A scan that first runs later in the week (beat down on
Monday) still sends that week's digest. It covers the previous Monday to Sunday with the
figures of ``figures.summary`` (the same definitions as the dashboard), computed once for
all managers and only when someone is still owed the week's e-mail.

Monday is fixed rather than a clinic setting: a week's figures are complete on Monday
morning, and one more policy field would buy little. The digest holds aggregate figures
only, never a patient's name or record number.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model

from apps.accounts.roles import GROUP_NAMES, Role
from apps.assessments.models import MeasureKind
from apps.notifications.models import OutboxEmail
from apps.notifications.services import build_email, queue_many
from apps.ops.policy import clinic_policy
from apps.reports import figures
from hipclinic.zones import clinic_zone, iso_week

KIND_MANAGER_DIGEST = "manager-digest"
# A plain path: the dashboard page lives at /reports/ (built beside this scan).
DASHBOARD_PATH = "/reports/"


def digest_key(user_id: int, day: date) -> str:
    return f"{KIND_MANAGER_DIGEST}:{user_id}:{iso_week(day)}"


def previous_week(day: date) -> tuple[date, date]:
    """The Monday and Sunday of the ISO week before ``day``'s."""
    monday = day - timedelta(days=day.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def managers():
    """Active clinic managers with an e-mail address."""
    return (get_user_model().objects.filter(is_active=True, groups__name=GROUP_NAMES[Role.CLINIC_MANAGER])
            .exclude(email="").order_by("pk").distinct())


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share * 100:.1f}%"


def headline(found: dict, *, currency: str) -> list[tuple[str, str]]:
    """(label, value) rows of the digest, in reading order, from ``figures.summary``'s result."""
    def money(amount: Decimal) -> str:
        return f"{amount:.2f} {currency}"

    units = found["units_per_visit"]
    mcid = []
    for measure in MeasureKind.values:
        row = found["outcomes"]["by_measure"][measure]
        parts = [f"{percent(row['share_reaching_mcid'])} of {row['with_follow_up']}"] if row["with_follow_up"] else []
        if row["no_follow_up"]:
            parts.append(f"{row['no_follow_up']} without a follow-up score")
        if parts:
            mcid.append(f"{measure.upper()} {', '.join(parts)}")
    return [
        ("Visits", str(found["visits"])),
        ("Cancellation and no-show rate", f"{percent(found['cancellation_and_no_show_rate'])} "
                                          f"({found['cancelled']} cancelled, {found['no_shows']} no-show, "
                                          f"of {found['scheduled']} scheduled)"),
        ("New referrals", str(found["new_referrals"])),
        ("Referral conversion", percent(found["conversion"])),
        ("Units per visit", "n/a" if units is None else f"{units:.2f}"),
        ("Charges", money(found["charges_total"])),
        ("Payments", money(found["payments_total"])),
        ("Outstanding balance", money(found["outstanding_balance"])),
        ("Reaching the MCID", "; ".join(mcid) or "no discharges"),
        ("Overdue", f"{found['overdue_progress_reports']} progress reports, "
                    f"{found['overdue_recertifications']} re-certifications, "
                    f"{found['unsigned_notes']} unsigned notes"),
    ]


def queue_manager_digests(now: datetime) -> int:
    """Once an ISO week, from Monday's digest time: last week's figures to each clinic manager.

    Nothing is read before Monday's digest time. Then: the managers, the keys already queued,
    and when someone is owed the week's e-mail the figures (``summary``'s fixed count) and one
    INSERT.
    """
    policy = clinic_policy()
    local = now.astimezone(clinic_zone())
    today = local.date()
    if today.weekday() == 0 and local.time() < policy.therapist_digest_time:
        return 0
    wanted = {digest_key(user.pk, today): user for user in managers()}
    if not wanted:
        return 0
    existing = set(OutboxEmail.objects.filter(key__in=list(wanted)).values_list("key", flat=True))
    owed = {key: user for key, user in wanted.items() if key not in existing}
    if not owed:
        return 0
    start, end = previous_week(today)
    found = figures.summary(start=start, end=end, now=now)
    rows = headline(found, currency=policy.currency)
    context = {"start": start, "end": end, "rows": rows, "dashboard_url": settings.SITE_URL + DASHBOARD_PATH}
    subject = f"The clinic's week: {start.day} {start:%b} to {end.day} {end:%b %Y}"
    return queue_many([row for row in (
        build_email(
            key=key,
            kind=KIND_MANAGER_DIGEST,
            to_email=user.email,
            subject=subject,
            text_template="emails/manager_digest.txt",
            html_template="emails/manager_digest.html",
            context={**context, "first_name": user.first_name or user.username},
            send_after=now,
        )
        for key, user in owed.items()
    ) if row is not None])
