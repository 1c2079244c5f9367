from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.ops.access import AccessLoggedAdminMixin
from apps.patients.selectors import latest_referral_cause
from apps.prescriptions import services
from apps.prescriptions.extras import PROGRAM_FIGURES, with_figures
from apps.prescriptions.models import Exercise, PatientLink, Program, ProgramItem, ProgramStatus, ProgramVersion
from hipclinic.admin_writes import WrittenByService, service_action


class ExerciseForm(forms.ModelForm):
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
                                   help_text="One step per line, in plain words a patient can follow.")
    video_url = forms.URLField(required=False, assume_scheme="https", label="Video URL")

    class Meta:
        model = Exercise
        fields = ["name", "slug", "ladder_rank", "muscle_bias", "equipment", "instructions", "per_side", "dose_type",
                  "default_sets", "min_sets", "max_sets", "default_dose_low", "default_dose_high", "min_dose",
                  "max_dose", "load_unit", "max_load", "loaded_or_resisted", "cautions", "image", "video_url",
                  "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(self.initial.get("instructions"), list):
            self.initial["instructions"] = "\n".join(self.initial["instructions"])

    def clean_instructions(self):
        steps = [line.strip() for line in self.cleaned_data["instructions"].splitlines() if line.strip()]
        if not steps:
            raise ValidationError("Write at least one step.")
        return steps


@admin.register(Exercise)
class ExerciseAdmin(SimpleHistoryAdmin):
    form = ExerciseForm
    list_display = ["ladder_rank", "name", "muscle_bias", "equipment", "dose_type", "loaded_or_resisted",
                    "is_active"]
    list_display_links = ["name"]
    list_filter = ["is_active", "equipment", "muscle_bias", "loaded_or_resisted"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    ordering = ["ladder_rank", "name"]

    def has_delete_permission(self, request, obj=None):
        return False  # retire instead: programs and versions refer to exercises

    def save_model(self, request, obj, form, change):
        services.save_exercise(exercise=obj, by=request.user)


ITEM_FIELDS = ("exercise", "order", "sets", "dose_low", "dose_high", "load", "side", "notes", "caution_acknowledged")


def initial_items(request) -> list[dict]:
    """Items to pre-fill when a program is started from an assessment (``?from_assessment=<id>``)."""
    from apps.assessments.models import Assessment

    pk = request.GET.get("from_assessment", "")
    assessment = Assessment.objects.filter(pk=pk).first() if pk.isdigit() else None
    return services.items_from_assessment(assessment) if assessment is not None else []


class ProgramItemFormSet(BaseInlineFormSet):
    """The program's items. Checks the whole program as the service will, before anything is written:
    an edit of an active program, or a save that activates it, must keep it safe."""

    def __init__(self, *args, activating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.activating = activating

    def items(self) -> list[ProgramItem]:
        """The items as the forms now give them (deleted and blank rows left out), in their order."""
        items = []
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE") or not data.get("exercise"):
                continue
            item = ProgramItem(**{name: data.get(name) for name in ITEM_FIELDS})
            item.pk = form.instance.pk
            items.append(item)
        return sorted(items, key=lambda item: item.order or 0)

    def clean(self):
        super().clean()
        if any(self.errors) or not self.instance.patient_id:
            return
        program = self.instance
        active = program.status == ProgramStatus.ACTIVE or self.activating
        problems = services.program_problems(program, self.items(), active=active)
        messages = [message for name in ("status", "items") for message in problems.get(name, [])]
        if messages:
            raise ValidationError(messages)


class ProgramItemInline(admin.TabularInline):
    model = ProgramItem
    formset = ProgramItemFormSet
    fields = ["order", "exercise", "sets", "dose_low", "dose_high", "load", "side", "notes", "caution_shown",
              "caution_acknowledged"]
    readonly_fields = ["caution_shown"]
    autocomplete_fields = ["exercise"]
    extra = 1
    ordering = ["order", "id"]

    def get_extra(self, request, obj=None, **kwargs):
        if obj is not None:
            return 0
        # Rows for the pre-filled exercises (filled by ProgramAdmin.get_formset_kwargs, which
        # reads the assessment once); a row left over stays blank for one more exercise.
        return services.STARTING_EXERCISES if "from_assessment" in request.GET else 1

    def get_queryset(self, request):
        # The patient's latest referral cause, in the same query (not two queries per row).
        return super().get_queryset(request).select_related("exercise").annotate(
            referral_cause=latest_referral_cause("program__patient"))

    @admin.display(description="caution for this referral")
    def caution_shown(self, item):
        if not item.pk:
            return "-"
        caution = item.exercise.caution_for(item.referral_cause)  # annotated by get_queryset
        return format_html('<strong class="caution">{}</strong>', caution) if caution else "-"


class ProgramVersionInline(admin.TabularInline):
    model = ProgramVersion
    fields = ["number", "created_at", "created_by", "changes_shown"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]
    verbose_name_plural = "Versions (every change to an active program's exercises)"

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def changes_shown(self, version):
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((c,) for c in version.changes)))


def _status_action(service, done: str, description: str):
    return service_action(service, argument="program", description=description, done=done,
                          describe=lambda program: f"{program.patient.record_number}, {program}")


@admin.register(Program)
class ProgramAdmin(WrittenByService, AccessLoggedAdminMixin, SimpleHistoryAdmin):
    list_display = ["patient", "start_date", "status", "therapist", "weeks", "sessions_per_week"]
    list_filter = ["status", "start_date"]
    list_select_related = ["patient", "therapist"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["source_assessment"]
    show_full_result_count = False
    inlines = [ProgramItemInline, ProgramVersionInline]
    # Status changes only through the services: the buttons and these actions.
    readonly_fields = ["status", "activated_at"]
    actions = [
        _status_action(services.activate_program, "Programs activated",
                       "Activate (the patient is e-mailed their program)"),
        _status_action(services.pause_program, "Programs paused", "Pause"),
        _status_action(services.complete_program, "Programs completed", "Mark as completed"),
        _status_action(services.stop_program, "Programs stopped", "Stop early"),
        "duplicate", "print_handout", "send_patient_link",
    ]
    fieldsets = [
        (None, {"fields": [("patient", "source_assessment"), ("therapist", "status", "activated_at")]}),
        ("Schedule", {"fields": [("start_date", "weeks", "sessions_per_week"), "goals"]}),
        ("Safety", {"fields": [("surgeon_clearance", "surgeon_clearance_note")]}),
    ]

    def get_list_display(self, request):
        figures = [figure.admin_column for figure in PROGRAM_FIGURES.values() if figure.admin_column]
        return [*self.list_display, *figures]

    def get_queryset(self, request):
        return with_figures(super().get_queryset(request))

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("therapist", request.user.pk)
        pk = request.GET.get("from_assessment", "")
        if pk.isdigit():
            from apps.assessments.models import Assessment

            assessment = Assessment.objects.filter(pk=pk).first()
            if assessment is not None:
                initial.update(patient=assessment.patient_id, source_assessment=assessment.pk)
        return initial

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ProgramItemInline):
            kwargs["activating"] = request.method == "POST" and "_activate" in request.POST
            if request.method == "GET" and obj.pk is None:  # "start from an assessment": pre-filled, editable
                kwargs["initial"] = initial_items(request)
        return kwargs

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_activate"] = self.has_change_permission(request, obj) and (
            obj is None or obj.status in (ProgramStatus.DRAFT, ProgramStatus.PAUSED))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def write(self, request, form, formsets, change):
        items_formset = next(f for f in formsets if isinstance(f, ProgramItemFormSet))
        program = services.save_program(program=form.instance, items=items_formset.items(), by=request.user)
        if items_formset.activating:
            try:
                services.activate_program(program=program, by=request.user)
            except ValidationError as error:  # changed meanwhile by someone else: saved, not activated
                self.message_user(request, f"Saved, but not activated: {' '.join(error.messages)}", messages.ERROR)
            else:
                form.instance.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        if "_activate" in request.POST:
            return self._shown_after_activation(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_activate" in request.POST:
            return self._shown_after_activation(request, obj)
        return super().response_change(request, obj)

    def _shown_after_activation(self, request, program):
        if program.status == ProgramStatus.ACTIVE:
            self.message_user(request, f"{program.patient.full_name}'s program is active; they are e-mailed it "
                                       "if they agreed to e-mail.", messages.SUCCESS)
        return redirect("admin:prescriptions_program_change", program.pk)

    @admin.action(description="Duplicate as a new draft", permissions=["add"])
    def duplicate(self, request, queryset):
        for program in queryset:
            copy = services.duplicate_program(program=program, by=request.user)
            self.message_user(request, format_html('Created draft <a href="{}">{}</a>.',
                                                   reverse("admin:prescriptions_program_change", args=[copy.pk]),
                                                   copy), messages.SUCCESS)

    @admin.action(description="Open the printable handout", permissions=["view"])
    def print_handout(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose one program to print.", messages.WARNING)
            return None
        return redirect("prescriptions:handout", pk=queryset.get().pk)

    @admin.action(description="Create the patient's program link", permissions=["view"])
    def send_patient_link(self, request, queryset):
        if not request.user.has_perm("prescriptions.add_patientlink"):
            self.message_user(request, "Your role cannot create patient links.", messages.ERROR)
            return
        for program in queryset.select_related("patient"):
            link = services.create_patient_link(patient=program.patient, by=request.user)
            url = services.patient_link_url(link)
            self.message_user(request, format_html("Link for {} (valid until {}): <a href='{}'>{}</a>",
                                                   program.patient.record_number,
                                                   f"{link.expires_at:%d %b %Y}", url, url), messages.SUCCESS)


@admin.register(PatientLink)
class PatientLinkAdmin(admin.ModelAdmin):
    list_display = ["patient", "created_at", "expires_at", "revoked_at", "created_by"]
    list_select_related = ["patient", "created_by"]
    readonly_fields = ["patient", "created_by", "created_at", "expires_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected links", permissions=["change"])
    def revoke(self, request, queryset):
        count = services.revoke_patient_links(links=queryset, by=request.user)
        self.message_user(request, f"Revoked {count} link(s).", messages.SUCCESS)
