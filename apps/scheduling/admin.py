from django.contrib import admin
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
from hipclinic.admin_writes import WrittenByService, service_action


class WorkingHoursFormSet(BaseInlineFormSet):
    def blocks(self) -> list[WorkingHours]:
        """The hours as the forms now give them (each form's instance carries its cleaned values)."""
        return [form.instance for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("weekday")
                is not None]

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
    actions = [service_action(services.withdraw_from_waitlist, argument="entry", done="Withdrawn from the waitlist",
                              description="Withdraw from the waitlist",
                              describe=lambda entry: entry.patient.record_number)]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
