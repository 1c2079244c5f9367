from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from apps.ops import services
from apps.ops.models import AccessLog, ClinicPolicy
from apps.ops.policy import clinic_policy


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


@admin.register(ClinicPolicy)
class ClinicPolicyAdmin(SimpleHistoryAdmin):
    """The clinic's one policy row: the list opens it; no adding, no deleting; every change kept."""

    fieldsets = [
        ("The clinic, as patients see it", {
            "fields": ["clinic_name", "address", "phone", "email_closing", "front_desk_email"],
            "description": "The name, address, phone and closing text end every e-mail to a patient.",
        }),
        ("E-mail timing", {"fields": ["quiet_hours", ("quiet_hours_start", "quiet_hours_end")]}),
        ("Booking", {"fields": ["slot_step_minutes", "late_cancellation_hours"]}),
        ("Assessment", {"fields": ["knee_hold_pass_seconds", "lsi_deficit_below_percent", "intake_link_days"]}),
        ("Home programs and follow-up", {"fields": [
            "program_link_days", "transpsoas_clearance_weeks", "followup_weeks", "followup_flag_after_days",
            "progression_auto_apply", "missed_session_days"]}),
        ("Plans of care and visit notes", {
            "fields": ["plan_of_care_clock", "certification_due_days", "recertification_days",
                       "progress_report_every_visits", "report_visit_minutes", "unsigned_note_hours", "cosign_hours",
                       "therapist_digest_time"],
            "description": "Defaults follow US Medicare (certify within 30 days of the first treatment, "
                           "re-certify every 90 days, a progress report every 10 visits). Untick the clock "
                           "if the clinic's payers ask for none of it.",
        }),
        ("Billing", {"fields": ["currency", "billing_npi", "tax_id"]}),
        ("Sign-in", {"fields": ["two_factor_for_front_desk"]}),
    ]
    readonly_fields = ["updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # Django's 403
        policy = clinic_policy()
        return redirect(reverse("admin:ops_clinicpolicy_change", args=[policy.pk]))

    def save_model(self, request, obj, form, change):
        services.update_clinic_policy(policy=obj, changed_by=request.user)
