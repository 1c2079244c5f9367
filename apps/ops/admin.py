from django.contrib import admin

from apps.ops.models import AccessLog


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """Read-only: who opened which clinical record, when. Clinic managers only."""

    list_display = ["at", "user", "record_type", "record_id", "patient_id", "via"]
    list_filter = ["record_type", "via", "at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "=patient_id", "=record_id"]
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
