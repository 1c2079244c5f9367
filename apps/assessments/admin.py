from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.assessments import selectors, services
from apps.assessments.forms import LEFS_LEGEND, AssessmentForm, OutcomeMeasureForm, SideFindingsForm
from apps.assessments.models import SIDE_FINDING_FIELDS, Assessment, OutcomeMeasure, SideFindings
from apps.ops.access import AccessLoggedAdminMixin
from apps.patients import admin as patients_admin
from hipclinic.admin_writes import WrittenByService

TEST_FIELDSETS = [
    ("Manual muscle test, hip flexion (seated)", {"fields": [("mmt_grade", "pain_on_resisted_flexion")]}),
    ("Knee-to-chest hold", {"fields": ["knee_hold_seconds"]}),
    ("Hand-held dynamometry (optional, newtons)", {"fields": [("dynamometry_trial_1", "dynamometry_trial_2",
                                                               "dynamometry_trial_3")]}),
    ("Thomas test", {"fields": [("thomas_iliopsoas", "thomas_rectus_femoris", "thomas_tfl")]}),
    ("Active straight leg raise (optional)", {"fields": ["aslr"]}),
]


class SideFindingsFormSet(BaseInlineFormSet):
    def sides(self) -> list[dict]:
        """The findings entered or changed, one dict per side (a side left blank on a new assessment is left out)."""
        return [{name: form.cleaned_data.get(name) for name in SIDE_FINDING_FIELDS}
                for form in self.forms
                if form.cleaned_data and form.cleaned_data.get("side") and (form.has_changed() or form.instance.pk)]


class SideFindingsInline(admin.StackedInline):
    model = SideFindings
    form = SideFindingsForm
    formset = SideFindingsFormSet
    extra = 2
    max_num = 2
    can_delete = False
    fieldsets = [(None, {"fields": ["side"]}), *TEST_FIELDSETS,
                 ("Computed", {"fields": [("best_newtons", "knee_hold_pass")]})]
    readonly_fields = ["best_newtons", "knee_hold_pass"]
    verbose_name_plural = "Findings per side (left and right)"


class OutcomeMeasureInline(admin.TabularInline):
    model = OutcomeMeasure
    form = OutcomeMeasureForm
    extra = 0
    fields = ["measure", "recorded_on", "items", "source", "score", "complete", "score_note"]
    readonly_fields = ["score", "complete", "score_note"]
    show_change_link = True


class CauseFilter(patients_admin.CauseFilter):
    patient_ref = "patient"


@admin.register(Assessment)
class AssessmentAdmin(WrittenByService, AccessLoggedAdminMixin, SimpleHistoryAdmin):
    form = AssessmentForm
    list_display = ["assessed_on", "patient", "therapist", "classification", "suggested_rung", "warning_flag"]
    list_filter = ["classification", CauseFilter, "assessed_on"]
    list_select_related = ["patient", "therapist"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["appointment"]
    date_hierarchy = "assessed_on"
    show_full_result_count = False
    inlines = [SideFindingsInline, OutcomeMeasureInline]
    actions = ["start_program"]
    readonly_fields = ["classification", "reasons", "warnings_shown", "limb_symmetry_index", "suggested_rung",
                       "rung_reasons_shown", "start_program_link"]
    fieldsets = [
        ("Visit", {"fields": [("patient", "assessed_on"), ("therapist", "appointment")]}),
        ("Complaints and history", {"fields": ["complaints", "clinical_history"]}),
        ("Pain (NPRS 0-10)", {"fields": [("pain_now", "pain_worst_week")]}),
        ("Safety", {"fields": ["surgeon_clearance"]}),
        ("Result (computed from the findings)", {"fields": [
            "warnings_shown", ("classification", "limb_symmetry_index"), "reasons",
            "suggested_rung", "rung_reasons_shown", "start_program_link"]}),
    ]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("therapist", request.user.pk)
        return initial

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, SideFindingsInline) and obj.pk is None:
            kwargs["initial"] = [{"side": "left"}, {"side": "right"}]  # a new assessment: one form per side
        return kwargs

    def write(self, request, form, formsets, change):
        sides = next(f for f in formsets if isinstance(f, SideFindingsFormSet))
        outcomes = next(f for f in formsets if f.model is OutcomeMeasure)
        services.record_assessment(assessment=form.instance, sides=sides.sides(), recorded_by=request.user,
                                   outcomes=outcomes.save(commit=False))

    @admin.display(description="home program")
    def start_program_link(self, assessment):
        if not assessment.pk:
            return "-"
        url = reverse("admin:prescriptions_program_add") + f"?from_assessment={assessment.pk}"
        return format_html('<a class="button" href="{}">Start a program from this assessment</a>', url)

    @admin.action(description="Start a home program from this assessment", permissions=["view"])
    def start_program(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose one assessment.", messages.WARNING)
            return None
        return redirect(reverse("admin:prescriptions_program_add") + f"?from_assessment={queryset.get().pk}")

    @admin.display(boolean=True, description="warning")
    def warning_flag(self, assessment):
        return bool(assessment.warnings)

    @admin.display(description="why")
    def reasons(self, assessment):
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>",
                                                           ((r,) for r in assessment.classification_reasons)))

    @admin.display(description="warnings")
    def warnings_shown(self, assessment):
        if not assessment.warnings:
            return "-"
        return format_html('<ul class="errorlist">{}</ul>', format_html_join(
            "", "<li><strong>{}</strong></li>", ((w,) for w in assessment.warnings)))

    @admin.display(description="why this rung")
    def rung_reasons_shown(self, assessment):
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in assessment.rung_reasons)))


@admin.register(OutcomeMeasure)
class OutcomeMeasureAdmin(AccessLoggedAdminMixin, SimpleHistoryAdmin):
    form = OutcomeMeasureForm
    list_display = ["recorded_on", "patient", "measure", "score", "complete", "change_shown", "source"]
    list_filter = ["measure", "source", "complete"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["assessment"]
    readonly_fields = ["score", "complete", "missing_items", "score_note", "change_shown", "lefs_items"]
    show_full_result_count = False

    def get_queryset(self, request):
        return selectors.outcome_measures()

    def get_fields(self, request, obj=None):
        return ["patient", "assessment", "measure", "recorded_on", "items", "source", "score", "complete",
                "score_note", "change_shown", "lefs_items"]

    def save_model(self, request, obj, form, change):
        services.record_outcome(outcome=obj, recorded_by=request.user)

    @admin.display(description="change from first score")
    def change_shown(self, outcome):
        result = selectors.change_from_baseline(outcome)
        if result is None:
            return "baseline" if outcome.score is not None else "-"
        mark = "MCID reached" if result["mcid_reached"] else f"below MCID ({result['threshold']})"
        return f"{result['delta']:+g} ({mark})"

    @admin.display(description="LEFS item numbers")
    def lefs_items(self, outcome):
        return LEFS_LEGEND
