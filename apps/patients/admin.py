from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from simple_history.admin import SimpleHistoryAdmin

from apps.patients import selectors, services
from apps.patients.forms import RedFlagDecisionForm, ReferralForm, ReferralFormSet, red_flag_status
from apps.patients.models import Patient, Referral, ReferralCause


class ReferralInline(admin.StackedInline):
    model = Referral
    form = ReferralForm
    formset = ReferralFormSet
    extra = 0
    fields = [
        ("cause", "cause_other"), ("referring_clinician", "referral_date", "surgery_date"), "reason",
        ("red_flags", "red_flag_status"),
    ]
    # The decision is recorded on the referral's own page (services.record_red_flag_decision); here it is shown.
    readonly_fields = ["red_flag_status"]
    show_change_link = True

    def get_fields(self, request, obj=None):
        if request.user.has_perm("patients.view_red_flag_screen"):
            return self.fields
        return [("cause", "cause_other"), ("referring_clinician", "referral_date", "surgery_date")]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("red_flag_decided_by")  # named beside each screen

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"saved_by": request.user})

    @admin.display(description="Decision")
    def red_flag_status(self, referral):
        return red_flag_status(referral)


class CauseFilter(admin.SimpleListFilter):
    """Filter by referral cause; ``patient_ref`` points at the patient from the listed model."""

    title = "referral cause"
    parameter_name = "cause"
    patient_ref = "pk"

    def lookups(self, request, model_admin):
        return ReferralCause.choices

    def queryset(self, request, queryset):
        if self.value():
            referrals = Referral.objects.filter(patient=OuterRef(self.patient_ref), cause=self.value())
            return queryset.filter(Exists(referrals))
        return queryset


class ArchivedFilter(admin.SimpleListFilter):
    title = "record"
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", "Current"), ("yes", "Archived")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["record_number", "last_name", "first_name", "date_of_birth", "email_consent", "red_flag",
                    "is_current"]
    list_filter = [CauseFilter, ArchivedFilter, "sex", "email_consent"]
    search_fields = ["record_number", "last_name", "first_name", "email", "phone"]
    readonly_fields = ["record_number", "email_consent_changed_at", "archived_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["record_number", ("first_name", "last_name"), ("date_of_birth", "sex")]}),
        ("Contact", {"fields": [("email", "phone"), ("time_zone", "preferred_contact"),
                                ("email_consent", "email_consent_changed_at")]}),
        ("Notes", {"fields": ["notes"]}),
        ("Record", {"fields": [("archived_at", "created_at", "updated_at")]}),
    ]
    inlines = [ReferralInline]
    actions = ["archive", "restore"]
    show_full_result_count = False
    list_per_page = 50

    def get_queryset(self, request):
        return selectors.with_red_flag_alert(super().get_queryset(request))

    def save_model(self, request, obj, form, change):
        if change:
            services.update_patient(patient=obj, changed_by=request.user)
        else:
            services.register_patient(patient=obj, registered_by=request.user)

    @admin.display(boolean=True, description="red flag open", ordering="red_flag_alert")
    def red_flag(self, patient):
        return patient.red_flag_alert

    @admin.display(boolean=True, description="current")
    def is_current(self, patient):
        return not patient.is_archived

    def has_change_permission(self, request, obj=None):
        # An archived record is read-only until it is restored (the same rule as the API and the desk).
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_archived)

    def has_delete_permission(self, request, obj=None):
        return False  # archived instead: appointments, assessments and history refer to patients

    @admin.action(description="Archive the selected patients", permissions=["change"])
    def archive(self, request, queryset):
        archived = 0
        for patient in queryset:
            try:
                services.archive_patient(patient=patient, archived_by=request.user)
                archived += 1
            except ValidationError as error:
                self.message_user(request, f"{patient.record_number}: {' '.join(error.messages)}", messages.ERROR)
        if archived:
            self.message_user(request, f"Archived {archived} patient(s).", messages.SUCCESS)

    @admin.action(description="Restore the selected archived patients", permissions=["change"])
    def restore(self, request, queryset):
        restored = 0
        for patient in queryset.filter(archived_at__isnull=False):
            services.restore_patient(patient=patient, restored_by=request.user)
            restored += 1
        self.message_user(request, f"Restored {restored} patient(s).", messages.SUCCESS)


@admin.register(Referral)
class ReferralAdmin(SimpleHistoryAdmin):
    form = ReferralForm
    list_display = ["patient", "cause", "referral_date", "red_flag_positive", "red_flag_decision"]
    list_filter = ["cause", "red_flag_decision"]
    list_select_related = ["patient"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["red_flag_status"]
    show_full_result_count = False

    @admin.display(boolean=True, description="red flag")
    def red_flag_positive(self, referral):
        return referral.red_flag_positive

    @admin.display(description="Decision")
    def red_flag_status(self, referral):
        return red_flag_status(referral)

    def get_fieldsets(self, request, obj=None):
        referral = ["patient", "cause", "cause_other", "referring_clinician", "referral_date", "surgery_date"]
        if not request.user.has_perm("patients.view_red_flag_screen"):
            return [(None, {"fields": referral})]
        screen = [("red_flags", "red_flag_status")]
        if request.user.has_perm("patients.decide_red_flag"):
            screen += ["decision", "decision_note"]
        return [(None, {"fields": [*referral, "reason"]}), ("Red flags", {"fields": screen})]

    def get_form(self, request, obj=None, **kwargs):
        # Only a therapist records the decision (as services.record_red_flag_decision requires).
        if request.user.has_perm("patients.decide_red_flag"):
            kwargs["form"] = RedFlagDecisionForm
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        # Saved even when unchanged, as the admin does (a revert from history posts an unchanged form);
        # a decision alone is saved by its service, which stamps who and when.
        decision = form.decision_to_record()
        if not change:
            services.add_referral(referral=obj, added_by=request.user)
        elif decision is None or form.referral_changed():
            services.update_referral(referral=obj, changed_by=request.user)
        if decision is not None:
            services.record_red_flag_decision(referral=obj, decision=decision[0], note=decision[1],
                                              decided_by=request.user)

    def has_delete_permission(self, request, obj=None):
        return False
