"""Template filters for e-mails rendered when sent, whose stored context can hold only JSON."""

from django import template

from apps.prescriptions.models import PatientLink
from apps.prescriptions.services import patient_link_url

register = template.Library()


@register.filter
def link_url(link_id) -> str:
    """The signed URL of the program link with this id: {{ program_link|link_url }}; blank without one."""
    return patient_link_url(PatientLink(pk=link_id)) if link_id else ""
