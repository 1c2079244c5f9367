import uuid

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html

from apps.followups import progression_service, services
from apps.followups.models import FollowUp, LogSource, ProgressionProposal, ProposalStatus, SessionLog, SessionLogItem
from hipclinic.admin_writes import WrittenByService, service_action


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    """Planned when a program is activated and booked from the desk's follow-ups list; read and cancel here."""

    list_display = ["due_date", "patient", "week", "status", "flagged", "appointment"]
    list_filter = ["status", "due_date"]
    list_select_related = ["program__patient", "appointment"]
    search_fields = ["program__patient__record_number", "program__patient__last_name"]
    readonly_fields = ["program", "week", "due_date", "status", "appointment", "created_at"]
    show_full_result_count = False
    actions = [service_action(services.cancel_followup, argument="followup", done="Follow-ups cancelled",
                              description="Cancel: no re-assessment needed")]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="patient")
    def patient(self, followup):
        return followup.program.patient

    @admin.display(boolean=True, description="unbooked a week after due")
    def flagged(self, followup):
        return followup.is_overdue


class SessionLogItemFormSet(BaseInlineFormSet):
    """An in-clinic session's exercises, each one on the program, checked as the service will check them."""

    def rows(self) -> list[dict]:
        program = self.instance.program if self.instance.program_id else None
        on_program = {item.exercise_id: item.pk for item in program.items.all()} if program else {}
        return [
            {"item": on_program.get(form.cleaned_data["exercise"].pk), "sets_done": form.cleaned_data["sets_done"],
             "last_set_amount": form.cleaned_data.get("last_set_amount"),
             "pain_during": form.cleaned_data.get("pain_during"),
             "next_morning": form.cleaned_data.get("next_morning", "")}
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("exercise")
        ]

    def clean(self):
        super().clean()
        log = self.instance
        if any(self.errors) or not log.program_id or log.session_date is None:
            return
        problems = services.session_problems(program=log.program, session_date=log.session_date, items=self.rows())
        if problems:
            raise ValidationError([message for messages in problems.values() for message in messages])


class SessionLogItemInline(admin.TabularInline):
    model = SessionLogItem
    formset = SessionLogItemFormSet
    extra = 0
    fields = ["exercise", "sets_done", "last_set_amount", "pain_during", "next_morning"]
    autocomplete_fields = ["exercise"]

    def get_extra(self, request, obj=None, **kwargs):
        return 0 if obj else 3


@admin.register(SessionLog)
class SessionLogAdmin(WrittenByService, admin.ModelAdmin):
    """In-clinic sessions are logged here (through the same service as the patient's link);
    a logged session is a record and is not edited afterwards."""

    list_display = ["session_date", "program", "source", "effort"]
    list_filter = ["source", "effort", "session_date"]
    list_select_related = ["program__patient"]
    raw_id_fields = ["program"]
    fields = ["program", "session_date", "effort", "note", "source", "logged_by", "created_at"]
    readonly_fields = ["source", "logged_by", "created_at"]
    inlines = [SessionLogItemInline]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def write(self, request, form, formsets, change):
        log = form.instance
        saved = services.log_session(
            program=log.program, session_date=log.session_date, items=formsets[0].rows(),
            submission_key=f"admin-{uuid.uuid4()}", effort=log.effort, note=log.note, source=LogSource.CLINIC,
            logged_by=request.user,
        )
        log.pk = saved.pk
        log.refresh_from_db()  # the admin's own object: its confirmation and change log name the saved row


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
