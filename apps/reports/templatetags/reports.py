"""How the dashboard shows a figure: shares as per cent, money with two places, nothing as a dash."""

from decimal import Decimal

from django import template

from apps.reports.tables import MONEY, SHARES

register = template.Library()


@register.filter
def figure(cell) -> str:
    value = cell.value
    if value is None:
        return "\u2013"  # an en dash: nothing to divide by
    if cell.key in SHARES:
        return f"{value * 100:.1f} %"
    if cell.key in MONEY:
        return f"{Decimal(value):,.2f}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@register.filter
def raw(value) -> str:
    """The value as the CSV writes it (for data attributes a test or script can read)."""
    return "" if value is None else str(value)
