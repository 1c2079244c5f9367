"""The small parts repeated on every row of the desk pages, built in Python.

A day's schedule shows a hundred or more appointments and the booking page up to eighty
free slots: rendered as included templates, with a ``{% url %}`` and a ``{% csrf_token %}``
per button, those parts took most of each page's time (bench/desk_pages.py --profile).
Here each is one ``format_html`` call; the action addresses are reversed once per page
(with a placeholder id, then the row's id put in its place) and the CSRF input is built
once per page. The HTML is the one the templates gave: same labels, links, forms, CSRF
input, aria attributes and escaping.
"""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from apps.scheduling.models import AppointmentStatus

register = template.Library()

# Any id: reversed once per page, then each row's id takes its place.
PLACEHOLDER_ID = 918273645
ROUTES = ("desk:appointment-check-in", "desk:appointment-no-show", "desk:appointment-check-out",
          "desk:appointment-reschedule", "desk:appointment-cancel", "desk:patient")
STATUS_CLASSES = {  # by value: a TextChoices member hashes by its name, the field holds the value
    AppointmentStatus.BOOKED.value: "text-bg-primary",
    AppointmentStatus.CHECKED_IN.value: "text-bg-success",
    AppointmentStatus.COMPLETED.value: "text-bg-secondary",
    AppointmentStatus.NO_SHOW.value: "text-bg-warning",
}
OTHER_STATUS_CLASS = "text-bg-light border"
EN_DASH = "\u2013"  # between a start and an end time, as the templates write it
RED_FLAG = mark_safe(
    '<span class="badge text-bg-danger" data-testid="red-flag">Red flag: awaiting therapist review</span>'
)


def _hh_mm(moment) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


class _PageParts:
    """What every row of one page shares: the row addresses, the CSRF input, ``here``."""

    def __init__(self, context):
        self.urls = {}
        for route in ROUTES:
            before, after = reverse(route, args=[PLACEHOLDER_ID]).split(str(PLACEHOLDER_ID))
            self.urls[route.removeprefix("desk:").removeprefix("appointment-")] = (before, after)
        token = context.get("csrf_token")
        self.csrf_input = (format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
                           if token and token != "NOTPROVIDED" else "")  # noqa: S105 - {% csrf_token %}'s marker
        self.here = context.get("here", "")
        self.here_quoted = quote(str(self.here), safe="/")
        self.next_input = format_html('<input type="hidden" name="next" value="{}">', self.here)

    def url(self, route: str, pk: int) -> str:
        before, after = self.urls[route]
        return f"{before}{pk}{after}"


def _page_parts(context) -> _PageParts:
    # The render context lives as long as one rendering of one template: one page, or one include.
    parts = context.render_context.get("desk_rows.parts")
    if parts is None:
        parts = context.render_context["desk_rows.parts"] = _PageParts(context)
    return parts


@register.simple_tag(takes_context=True)
def patient_url(context, patient_id: int) -> str:
    """``{% url 'desk:patient' patient_id %}``, reversed once per page."""
    return _page_parts(context).url("patient", patient_id)


@register.simple_tag
def time_range(appointment) -> str:
    """Local start and end, "09:00-09:30" with an en dash."""
    return f"{_hh_mm(timezone.localtime(appointment.start))}{EN_DASH}{_hh_mm(timezone.localtime(appointment.end))}"


@register.simple_tag
def red_flag_badge(alert) -> str:
    """The red-flag alert, as the desk may see it: awaiting review, never the screen's items."""
    return RED_FLAG if alert else ""


@register.simple_tag
def status_badge(appointment) -> SafeString:
    css = STATUS_CLASSES.get(appointment.status, OTHER_STATUS_CLASS)
    return format_html('<span class="badge {}">{}</span>', css, appointment.get_status_display())


@register.simple_tag
def booking_hint(hint) -> str:
    """The plan-of-care clock as booking advice only: never the plan, its diagnoses or its notes."""
    if not hint:
        return ""
    return format_html('<div class="small mt-1"><span class="badge text-bg-info text-wrap text-start" '
                       'data-testid="booking-hint">{}</span></div>', hint)


def _post_button(parts: _PageParts, action: str, css: str, label: str, text: str) -> SafeString:
    return format_html(
        '<form method="post" action="{}">{}\n      {}\n      '
        '<button type="submit" class="btn {} btn-sm" aria-label="{}">{}</button>\n    </form>',
        action, parts.csrf_input, parts.next_input, css, label, text,
    )


@register.simple_tag(takes_context=True)
def appointment_actions(context, appointment) -> SafeString:
    """The buttons for one appointment: check in (today), no-show (once started), reschedule, check out, cancel.

    ``here`` (where to come back to), ``now`` and ``today`` come from the page's context.
    """
    parts = _page_parts(context)
    pk = appointment.pk
    who = appointment.patient.full_name
    start = timezone.localtime(appointment.start)
    when = _hh_mm(start)
    buttons = []
    if appointment.status == AppointmentStatus.BOOKED:
        if start.date() == context.get("today"):
            buttons.append(_post_button(parts, parts.url("check-in", pk), "btn-success",
                                        f"Check in {who} ({when})", "Check in"))
        now = context.get("now")
        if now is not None and appointment.start <= now:
            buttons.append(_post_button(parts, parts.url("no-show", pk), "btn-warning",
                                        f"Mark {who} ({when}) as a no-show", "No-show"))
        buttons.append(format_html(
            '<a class="btn btn-outline-primary btn-sm" href="{}" aria-label="{}">Reschedule</a>',
            parts.url("reschedule", pk), f"Reschedule {who} ({when})",
        ))
    if appointment.status == AppointmentStatus.CHECKED_IN:
        buttons.append(_post_button(parts, parts.url("check-out", pk), "btn-secondary",
                                    f"Check out {who} ({when})", "Check out"))
    if appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN):
        buttons.append(format_html(
            '<a class="btn btn-outline-danger btn-sm" href="{}?next={}" aria-label="{}">Cancel</a>',
            parts.url("cancel", pk), parts.here_quoted, f"Cancel {who} ({when})",
        ))
    return format_html('<div class="d-flex flex-wrap gap-1 mt-1">\n    {}\n</div>',
                       format_html_join("\n    ", "{}", ((button,) for button in buttons)))


@register.simple_tag(takes_context=True)
def slot_buttons(context, slots, *, kind, action: str, post_kind: bool) -> SafeString:
    """One small POST form per free slot, posting to the page's own address (query string kept);
    ``kind`` is posted unless the page fixes it."""
    parts = _page_parts(context)
    page = context.get("request").get_full_path()
    kind_input = format_html('<input type="hidden" name="kind" value="{}">', kind.pk) if post_kind else ""
    kind_name = str(kind)
    days: dict = {}  # the spelled-out day ("Monday 1 December"), once per day
    items = []
    for slot in slots:
        start, end = timezone.localtime(slot.start), timezone.localtime(slot.end)
        day = start.date()
        if day not in days:
            days[day] = dateformat.format(day, "l j F")
        begins = _hh_mm(start)
        items.append(format_html(
            '<li class="list-inline-item mb-2">\n'
            '        <form method="post" action="{}">{}\n'
            '          <input type="hidden" name="therapist" value="{}">\n'
            '          {}\n'
            '          <input type="hidden" name="date" value="{}">\n'
            '          <input type="hidden" name="start_time" value="{}">\n'
            '          <button type="submit" class="btn btn-outline-primary btn-sm"\n'
            '                  aria-label="{} {} on {} at {} with {}">\n'
            '            {}' + EN_DASH + '{} · {}\n'
            '          </button>\n'
            '        </form>\n'
            '      </li>',
            page, parts.csrf_input, slot.therapist_id, kind_input, day.isoformat(), begins,
            action, kind_name, days[day], begins, slot.therapist_name,
            begins, _hh_mm(end), slot.therapist_name,
        ))
    return format_html_join("\n      ", "{}", ((item,) for item in items))
