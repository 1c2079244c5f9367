from django.contrib import admin

from apps.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatusChange,
    Therapist,
    TimeOff,
    WaitlistEntry,
    WorkingHours,
)
from hipclinic.admin_lists import LargeTablePaginator


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


@admin.register(Therapist)
class TherapistAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__username"]
    inlines = [WorkingHoursInline]


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["therapist", "start", "end", "reason"]
    list_filter = ["therapist"]
    list_select_related = ["therapist"]
    date_hierarchy = "start"


@admin.register(AppointmentKind)
class AppointmentKindAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "duration_minutes", "is_active"]
    readonly_fields = ["slug"]  # the API and integrations refer to kinds by slug

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(admin.TabularInline):
    model = AppointmentStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_status", "to_status", "changed_by", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    """Read and follow appointments here; booking and status changes go through the desk or
    the API, which apply the rota, overlap and status rules."""

    list_display = ["start", "end", "patient", "therapist", "kind", "status"]
    list_filter = ["status", "kind", "therapist"]
    list_select_related = ["patient", "therapist", "kind"]
    search_fields = ["patient__record_number", "patient__last_name"]
    date_hierarchy = "start"  # its drill-down comes from the first and last start (the change_list template)
    show_full_result_count = False
    paginator = LargeTablePaginator  # no COUNT(*) of the whole table on every page (hipclinic/admin_lists.py)
    readonly_fields = ["patient", "therapist", "kind", "start", "end", "status", "series", "overlap_reason",
                       "booked_by", "created_at", "updated_at"]
    inlines = [StatusChangeInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    list_display = ["patient", "kind", "therapist", "earliest", "latest", "status"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient", "kind", "therapist"]
    readonly_fields = ["created_by", "created_at"]
    raw_id_fields = ["patient", "current_appointment"]
