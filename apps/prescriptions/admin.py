from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.ops.access import AccessLoggedAdminMixin
from apps.patients.models import Referral
from apps.prescriptions import services
from apps.prescriptions.models import Exercise, PatientLink, Program, ProgramItem, ProgramStatus, ProgramVersion
from apps.prescriptions.signals import program_activated


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


class ProgramItemFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        items = []
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE") or not form.cleaned_data.get("exercise"):
                continue
            item = ProgramItem(**{name: value for name, value in form.cleaned_data.items()
                                  if name in {"exercise", "order", "sets", "dose_low", "dose_high", "load", "side",
                                              "notes", "caution_acknowledged"}})
            items.append(item)
        items.sort(key=lambda item: item.order or 0)
        program = self.instance
        if program.status == ProgramStatus.ACTIVE and program.patient_id:
            if not items:
                raise ValidationError("An active program needs at least one exercise.")
            problems = services.activation_problems(program, items)
            if problems:
                raise ValidationError([message for messages in problems.values() for message in messages])


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
        initial = getattr(request, "_program_initial_items", None)
        return len(initial) if initial else (0 if obj else 1)

    def get_queryset(self, request):
        # The patient's latest referral cause, in the same query (not two queries per row).
        latest_cause = (Referral.objects.filter(patient=OuterRef("program__patient"))
                        .order_by("-referral_date", "-id").values("cause")[:1])
        return super().get_queryset(request).select_related("exercise").annotate(
            referral_cause=Subquery(latest_cause))

    @admin.display(description="caution for this referral")
    def caution_shown(self, item):
        if not item.pk:
            return "-"
        caution = item.exercise.caution_for(getattr(item, "referral_cause", None))
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


@admin.register(Program)
class ProgramAdmin(AccessLoggedAdminMixin, SimpleHistoryAdmin):
    list_display = ["patient", "start_date", "status", "therapist", "weeks", "sessions_per_week", "last_7_days",
                    "adherence"]
    list_filter = ["status", "start_date"]
    list_select_related = ["patient", "therapist"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["source_assessment"]
    show_full_result_count = False
    inlines = [ProgramItemInline, ProgramVersionInline]
    actions = ["duplicate", "print_handout", "send_patient_link"]
    fieldsets = [
        (None, {"fields": [("patient", "source_assessment"), ("therapist", "status")]}),
        ("Schedule", {"fields": [("start_date", "weeks", "sessions_per_week"), "goals"]}),
        ("Safety", {"fields": [("surgeon_clearance", "surgeon_clearance_note")]}),
    ]

    def get_queryset(self, request):
        from datetime import timedelta

        from django.db.models import Count, Q
        from django.utils import timezone

        week_ago = timezone.localdate() - timedelta(days=6)
        return super().get_queryset(request).annotate(
            logged_total=Count("session_logs__session_date", distinct=True),
            logged_week=Count("session_logs__session_date", distinct=True,
                              filter=Q(session_logs__session_date__gte=week_ago)),
        )

    @admin.display(description="last 7 days")
    def last_7_days(self, program):
        return f"{program.logged_week}/{program.sessions_per_week}"

    @admin.display(description="adherence")
    def adherence(self, program):
        """Sessions logged against sessions prescribed so far (whole program)."""
        from datetime import timedelta

        from django.utils import timezone

        end = program.start_date + timedelta(weeks=program.weeks)
        days = (min(timezone.localdate(), end) - program.start_date).days
        if program.status == ProgramStatus.DRAFT or days <= 0:
            return "-"
        prescribed = max(1, round(program.sessions_per_week * days / 7))
        return f"{min(100, round(100 * program.logged_total / prescribed))} %"

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("therapist", request.user.pk)
        assessment = self._source_assessment(request)
        if assessment is not None:
            initial.update(patient=assessment.patient_id, source_assessment=assessment.pk)
        return initial

    def _source_assessment(self, request):
        from apps.assessments.models import Assessment

        pk = request.GET.get("from_assessment", "")
        return Assessment.objects.filter(pk=pk).first() if pk.isdigit() else None

    def add_view(self, request, form_url="", extra_context=None):
        assessment = self._source_assessment(request)
        if assessment is not None:  # "start from assessment": pre-filled, editable, not yet saved
            request._program_initial_items = services.items_from_assessment(assessment)
        return super().add_view(request, form_url, extra_context)

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        initial = getattr(request, "_program_initial_items", None)
        if isinstance(inline, ProgramItemInline) and initial and request.method == "GET":
            kwargs["initial"] = initial
        return kwargs

    def save_model(self, request, obj, form, change):
        # The inline formset has checked the program with its new items; the program row
        # is written first, its items next, and save_related checks the whole again.
        obj._items_pending = True
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        program = form.instance
        program._items_pending = False
        if program.status == ProgramStatus.ACTIVE:
            services.raise_if_unsafe(program)
            Program.objects.filter(patient=program.patient, status=ProgramStatus.ACTIVE).exclude(
                pk=program.pk).update(status=ProgramStatus.COMPLETED)
            first = services.record_version(program, by=request.user)
            if first is not None and first.number == 1:
                program_activated.send(sender=Program, program=program, by=request.user)

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
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} link(s).", messages.SUCCESS)
