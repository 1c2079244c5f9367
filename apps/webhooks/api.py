"""``/api/v1/webhook-endpoints/``: clinic managers register, read and change endpoints (the admin does the same)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from apps.webhooks import services
from apps.webhooks.events import Event
from apps.webhooks.models import WebhookEndpoint
from hipclinic.api import call_service


class EndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(max_length=500, help_text="HTTPS only; its host must resolve to public addresses "
                                                          "only (checked again at every delivery).")
    events = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), allow_empty=False,
                                   max_length=len(Event.values), help_text="The events sent to this endpoint.")
    secret = serializers.CharField(read_only=True, help_text="Made by hipclinic: the receiver verifies each "
                                                             "delivery's webhook-signature with it.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_active", "secret", "disabled_at", "disabled_reason",
                  "created_at", "updated_at"]
        read_only_fields = ["disabled_at", "disabled_reason", "created_at", "updated_at"]

    def create(self, validated_data):
        return call_service(services.save_endpoint, endpoint=WebhookEndpoint(**validated_data),
                            by=self.context["request"].user)

    def update(self, endpoint, validated_data):
        for name, value in validated_data.items():
            setattr(endpoint, name, value)
        return call_service(services.save_endpoint, endpoint=endpoint, by=self.context["request"].user)


@extend_schema_view(
    create=extend_schema(description="Register an endpoint (managers); the answer carries its signing secret."),
    partial_update=extend_schema(description="Change an endpoint (managers): URL, description, events, or turn it "
                                             "on or off (turning it on clears why it was turned off)."),
)
class EndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Webhook endpoints (clinic managers only); turned off, never deleted. See docs/webhooks.md."""

    serializer_class = EndpointSerializer
    queryset = WebhookEndpoint.objects.order_by("url", "id")
    filterset_fields = ["is_active"]
    http_method_names = ["get", "post", "patch", "head", "options"]
