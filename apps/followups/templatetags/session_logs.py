"""Template tags for the patient's program page (which is prescriptions' view, not ours)."""

from django import template

from apps.followups.models import SessionLog
from apps.followups.services import patient_today

register = template.Library()


@register.simple_tag
def awaiting_next_morning(program):
    """The program's latest session when some of its exercises lack the next-morning answer and
    that morning has come (the session was before today, in the patient's zone); else None."""
    if program is None:
        return None
    latest = SessionLog.objects.filter(program=program).order_by("-session_date", "-id").first()
    if latest is None or latest.session_date >= patient_today(program):
        return None
    return latest if latest.items.filter(next_morning="").exists() else None
