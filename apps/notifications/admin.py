from django.contrib import admin, messages

from apps.notifications import services
from apps.notifications.models import OutboxEmail, OutboxStatus


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    """What was sent, what waits and what failed; rows are written by the services only."""

    list_display = ["created_at", "kind", "status", "to_email", "patient", "attempts", "send_after", "sent_at",
                    "last_error"]
    list_filter = ["status", "kind"]
    search_fields = ["key", "to_email"]
    list_select_related = ["patient"]
    show_full_result_count = False  # a COUNT(*) over the whole outbox on every page is not worth it
    ordering = ["-created_at", "-id"]
    actions = ["resend_failed"]
    fields = ["key", "kind", "status", "patient", "to_email", "subject", "attempts", "send_after", "locked_until",
              "last_error", "created_at", "sent_at", "headers", "body"]
    readonly_fields = fields

    def get_queryset(self, request):
        # A superbill's PDF rides in ``attachments``: the list and page never show it, so never load it.
        return super().get_queryset(request).defer("attachments", "body_html")

    @admin.display(description="Body text")
    def body(self, obj):
        # A row queued in bulk stores its templates and context: show what is (or will be) sent.
        return obj.body_text or services.message_bodies(obj)[0]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the outbox is the record of what was sent

    @admin.action(description="Re-send selected failed e-mails", permissions=["change"])
    def resend_failed(self, request, queryset):
        failed_ids = list(queryset.filter(status=OutboxStatus.FAILED).values_list("pk", flat=True))
        count = services.resend(outbox_ids=failed_ids)
        if count:
            self.message_user(request, f"{count} e-mail(s) queued to be sent again.", messages.SUCCESS)
        else:
            self.message_user(request, "Only failed e-mails can be re-sent; none was selected.", messages.WARNING)
