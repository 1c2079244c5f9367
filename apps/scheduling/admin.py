from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from apps.scheduling import services
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
from hipclinic.admin_writes import WrittenByService


class WorkingHoursFormSet(BaseInlineFormSet):
    def blocks(self) -> list[WorkingHours]:
        blocks = []
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE") or data.get("weekday") is None:
                continue
            block = WorkingHours(weekday=data["weekday"], start_time=data["start_time"], end_time=data["end_time"])
            block.pk = form.instance.pk
            blocks.append(block)
        return blocks

    def clean(self):
        super().clean()
        if not any(self.errors) and (overlaps := services.hours_overlaps(self.blocks())):
            raise ValidationError(overlaps)


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    extra = 0


@admin.register(Therapist)
class TherapistAdmin(WrittenByService, admin.ModelAdmin):
    list_display = ["display_name", "user", "is_active"]
    list_filter = ["is_active"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__username"]
    inlines = [WorkingHoursInline]

    def write(self, request, form, formsets, change):
        hours = next((f for f in formsets if isinstance(f, WorkingHoursFormSet)), None)
        services.save_therapist(therapist=form.instance, hours=hours.blocks() if hours is not None else None,
                                by=request.user)


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ["therapist", "start", "end", "reason"]
    list_filter = ["therapist"]
    list_select_related = ["therapist"]
    date_hierarchy = "start"

    def save_model(self, request, obj, form, change):
        services.save_time_off(time_off=obj, by=request.user)


@admin.register(AppointmentKind)
class AppointmentKindAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "duration_minutes", "is_active"]
    readonly_fields = ["slug"]  # the API and integrations refer to kinds by slug

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.save_appointment_kind(kind=obj, by=request.user)


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
    """Read and withdraw here; patients join the waitlist on the desk pages or through the API."""

    list_display = ["patient", "kind", "therapist", "earliest", "latest", "status"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient", "kind", "therapist"]
    readonly_fields = ["patient", "kind", "therapist", "current_appointment", "earliest", "latest", "status", "note",
                       "created_by", "created_at"]
    actions = ["withdraw"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Withdraw from the waitlist", permissions=["change"])
    def withdraw(self, request, queryset):
        for entry in queryset.select_related("patient"):
            try:
                services.withdraw_from_waitlist(entry=entry, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"{entry.patient.record_number}: {' '.join(error.messages)}",
                                  messages.ERROR)
