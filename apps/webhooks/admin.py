from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from apps.webhooks import services
from apps.webhooks.forms import EndpointForm
from apps.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Managers register endpoints here; the secret is made by hipclinic and shown to them on the page."""

    form = EndpointForm
    list_display = ["__str__", "url", "events_list", "is_active", "disabled_at"]
    list_filter = ["is_active"]
    readonly_fields = ["secret_shown", "disabled_at", "disabled_reason", "created_by", "created_at"]
    actions = ["rotate_secrets"]

    def get_fields(self, request, obj=None):
        fields = ["url", "description", "events", "is_active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description="Events")
    def events_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description="Signing secret")
    def secret_shown(self, obj):
        return format_html("<code>{}</code><br>Give it to the receiving system: it verifies each delivery's "
                           "<code>webhook-signature</code> with it (docs/webhooks.md).", obj.secret)

    def save_model(self, request, obj, form, change):
        try:
            services.save_endpoint(endpoint=obj, by=request.user)
        except ValidationError as error:  # the form checked the same; the address may have changed since
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            raise

    def has_delete_permission(self, request, obj=None):
        return False  # turned off, never deleted: the delivery log points at it

    @admin.action(description="Make new signing secrets for the selected endpoints", permissions=["change"])
    def rotate_secrets(self, request, queryset):
        for endpoint in queryset:
            services.rotate_secret(endpoint=endpoint, by=request.user)
        self.message_user(request, f"{queryset.count()} endpoint(s) have a new secret: give it to the receiver.",
                          messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: what was sent where, each answer, and a re-send of the same delivery."""

    list_display = ["created_at", "event", "endpoint", "status", "attempts", "last_status_code", "last_error",
                    "send_after", "delivered_at"]
    list_filter = ["status", "event", "endpoint"]
    search_fields = ["webhook_id"]
    list_select_related = ["endpoint"]
    show_full_result_count = False
    ordering = ["-created_at", "-id"]
    actions = ["resend"]
    fields = ["webhook_id", "event", "endpoint", "status", "attempts", "send_after", "give_up_at", "locked_until",
              "last_status_code", "last_error", "last_attempt_at", "created_at", "delivered_at", "body"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        delivery = self.get_object(request, object_id)
        can_resend = (delivery is not None and self.has_change_permission(request, delivery)
                      and delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.DELIVERED)
                      and delivery.endpoint.is_active)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "can_resend": can_resend})

    def save_model(self, request, obj, form, change):
        pass  # the log is written by the services only: saving the page would overwrite a worker's update

    def response_change(self, request, obj):
        if "_resend" in request.POST:
            if services.resend(delivery_ids=[obj.pk], by=request.user):
                self.message_user(request, "Queued to be sent again, with the same webhook-id.", messages.SUCCESS)
            else:
                self.message_user(request, "Only a delivered or failed delivery of an active endpoint can be re-sent.",
                                  messages.WARNING)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    @admin.action(description="Re-send selected deliveries (same webhook-id)", permissions=["change"])
    def resend(self, request, queryset):
        ids = list(queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.DELIVERED])
                   .values_list("pk", flat=True))
        count = services.resend(delivery_ids=ids, by=request.user)
        if count:
            self.message_user(request, f"{count} deliver(ies) queued to be sent again.", messages.SUCCESS)
        else:
            self.message_user(request, "Only delivered or failed deliveries of active endpoints can be re-sent; "
                                       "none was selected.", messages.WARNING)
