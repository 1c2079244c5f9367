from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from apps.followups import progression_service
from apps.followups.models import FollowUp, ProgressionProposal, ProposalStatus, SessionLog, SessionLogItem


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["due_date", "patient", "week", "status", "flagged", "appointment"]
    list_filter = ["status", "due_date"]
    list_select_related = ["program__patient", "appointment"]
    search_fields = ["program__patient__record_number", "program__patient__last_name"]
    raw_id_fields = ["program", "appointment"]
    show_full_result_count = False

    @admin.display(description="patient")
    def patient(self, followup):
        return followup.program.patient

    @admin.display(boolean=True, description="unbooked a week after due")
    def flagged(self, followup):
        return followup.is_overdue


class SessionLogItemInline(admin.TabularInline):
    model = SessionLogItem
    extra = 0
    fields = ["exercise", "sets_done", "last_set_amount", "pain_during", "next_morning"]
    autocomplete_fields = ["exercise"]


@admin.register(SessionLog)
class SessionLogAdmin(admin.ModelAdmin):
    """In-clinic sessions are logged here; patients log theirs through their link."""

    list_display = ["session_date", "program", "source", "effort"]
    list_filter = ["source", "effort", "session_date"]
    list_select_related = ["program__patient"]
    raw_id_fields = ["program"]
    readonly_fields = ["submission_key", "logged_by", "created_at"]
    inlines = [SessionLogItemInline]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        if not obj.pk:
            import uuid

            obj.source, obj.logged_by, obj.submission_key = "clinic", request.user, f"admin-{uuid.uuid4()}"
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        progression_service.refresh_proposals(program=form.instance.program)


@admin.register(ProgressionProposal)
class ProgressionProposalAdmin(admin.ModelAdmin):
    list_display = ["created_at", "patient", "item", "action", "change", "reason", "status"]
    list_filter = ["status", "action"]
    list_select_related = ["program__patient", "item__exercise", "new_exercise"]
    readonly_fields = ["program", "item", "action", "current", "proposed", "new_exercise", "reason", "status",
                       "decided_by", "decided_at", "created_at"]
    actions = ["approve", "dismiss"]
    show_full_result_count = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.GET.get("status__exact") else queryset.order_by("status", "-created_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="patient")
    def patient(self, proposal):
        return proposal.program.patient

    @admin.display(description="dose")
    def change(self, proposal):
        def text(dose):
            load = f", {dose['load']:g}" if dose.get("load") else ""
            return f"{dose['sets']} x {dose['dose_low']}-{dose['dose_high']}{load}"

        target = f" ({proposal.new_exercise.name})" if proposal.new_exercise else ""
        return format_html("{} &rarr; {}{}", text(proposal.current), text(proposal.proposed), target)

    @admin.action(description="Approve: apply and tell the patient", permissions=["change"])
    def approve(self, request, queryset):
        applied = 0
        for proposal in queryset.filter(status=ProposalStatus.PENDING):
            try:
                progression_service.apply_proposal(proposal=proposal, by=request.user)
                applied += 1
            except ValidationError as error:
                self.message_user(request, f"{proposal}: {' '.join(error.messages)}", messages.ERROR)
        if applied:
            self.message_user(request, f"Applied {applied} proposal(s); each patient gets one e-mail.",
                              messages.SUCCESS)

    @admin.action(description="Dismiss", permissions=["change"])
    def dismiss(self, request, queryset):
        for proposal in queryset.filter(status=ProposalStatus.PENDING):
            progression_service.dismiss_proposal(proposal=proposal, by=request.user)
