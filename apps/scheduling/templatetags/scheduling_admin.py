"""Template tags for the scheduling admin's pages."""

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode

from hipclinic.admin_lists import range_date_hierarchy

register = template.Library()


@register.tag(name="range_date_hierarchy")
def range_date_hierarchy_tag(parser, token):
    """``{% range_date_hierarchy cl %}``: the admin's date drill-down without a DISTINCT scan."""
    return InclusionAdminNode(parser, token, func=range_date_hierarchy, template_name="date_hierarchy.html",
                              takes_context=False)
