from django import forms
from django.core.exceptions import ValidationError

from apps.webhooks import services
from apps.webhooks.events import Event
from apps.webhooks.models import WebhookEndpoint


class EndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple,
                                       help_text="The events sent to this endpoint.")
    url = forms.CharField(max_length=500, label="URL", help_text=WebhookEndpoint._meta.get_field("url").help_text)

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]

    def clean(self):
        cleaned = super().clean()
        if "url" in cleaned and "events" in cleaned:
            problems = services.endpoint_problems(url=cleaned["url"], events=cleaned["events"])
            if problems:
                raise ValidationError(problems)
        return cleaned
