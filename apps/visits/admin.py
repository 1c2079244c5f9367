"""Plans of care and visit notes in the admin, where therapists and assistants write them.

Every write goes through apps/visits/services.py. A note's draft is edited on its change
page by its author only; signing, co-signing and addenda have their own small pages that
ask for the password (and one-time code) again. A signed note's page is read-only.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from apps.accounts.roles import Role
from apps.ops.access import AccessLoggedAdminMixin, record_access
from apps.visits import codes, pdf, selectors, services
from apps.visits.forms import (
    AddendumForm,
    ConfirmIdentityForm,
    PlanDiagnosisForm,
    PlanGoalForm,
    PlanOfCareForm,
    StartNoteForm,
    VisitNoteForm,
)
from apps.visits.models import (
    Certification,
    DiagnosisCode,
    NoteStatus,
    PlanDiagnosis,
    PlanGoal,
    PlanOfCare,
    VisitNote,
)
from hipclinic.errors import place_errors
from hipclinic.zones import clinic_zone

# ---------------------------------------------------------------------------- plans of care


class _ServiceCheckedFormSet(BaseInlineFormSet):
    """An inline whose rows the service checks as a whole (duplicates, missing text): its refusal shows here."""

    check = None  # the service's row check

    def rows(self) -> list[dict]:
        return [form.cleaned_data for form in self.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        try:
            type(self).check(self.rows())
        except ValidationError as error:
            raise ValidationError([m for ms in error.message_dict.values() for m in ms]) from None


class DiagnosisFormSet(_ServiceCheckedFormSet):
    check = staticmethod(lambda rows: services.diagnosis_rows(
        [(row["code"], row.get("description", "")) for row in rows]))


class GoalFormSet(_ServiceCheckedFormSet):
    check = staticmethod(services.goal_rows)


class DiagnosisInline(admin.TabularInline):
    model = PlanDiagnosis
    form = PlanDiagnosisForm
    formset = DiagnosisFormSet
    extra = 1
    fields = ["code", "description"]


class GoalInline(admin.TabularInline):
    model = PlanGoal
    form = PlanGoalForm
    formset = GoalFormSet
    extra = 1
    fields = ["description", "measure", "target"]


class CertificationInline(admin.TabularInline):
    """The referring clinician's signatures: added here, never changed (a wrong one is superseded by the next)."""

    model = Certification
    extra = 0
    fields = ["signed_on", "clinician", "recorded_by", "recorded_at"]
    readonly_fields = ["recorded_by", "recorded_at"]
    can_delete = False

    def has_change_permission(self, request, obj=None):
        return False  # existing rows are shown read-only; new ones are added

    def has_add_permission(self, request, obj=None):
        return obj is not None and obj.is_open and request.user.has_perm("visits.add_certification")


@admin.register(PlanOfCare)
class PlanOfCareAdmin(AccessLoggedAdminMixin, SimpleHistoryAdmin):
    form = PlanOfCareForm
    list_display = ["patient", "started_on", "therapist", "status", "certified", "due_next"]
    list_filter = ["status"]
    list_select_related = ["patient", "therapist"]
    search_fields = ["patient__record_number", "patient__last_name"]
    autocomplete_fields = ["patient"]
    raw_id_fields = ["referral", "program"]
    show_full_result_count = False
    inlines = [DiagnosisInline, GoalInline, CertificationInline]
    readonly_fields = ["status", "discharged_on", "clock", "notes_list"]
    fieldsets = [
        ("Episode", {"fields": [("patient", "therapist"), ("referral", "program"), "started_on",
                                ("status", "discharged_on")]}),
        ("Treatment", {"fields": [("visits_per_week", "duration_weeks"), "treatment"]}),
        ("What is due", {"fields": ["clock", "notes_list"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("certifications")

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if request.user.has_role(Role.THERAPIST):
            initial.setdefault("therapist", request.user.pk)
        return initial

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_open)

    def has_delete_permission(self, request, obj=None):
        return False  # discharged, never deleted

    def save_model(self, request, obj, form, change):
        pass  # written with its inlines by save_related, through the services

    def save_related(self, request, form, formsets, change):
        by_model = {formset.model: formset for formset in formsets}
        diagnoses = [(row["code"], row.get("description", "")) for row in by_model[PlanDiagnosis].rows()]
        goals = [{"description": row["description"], "measure": row.get("measure") or "", "target": row.get("target")}
                 for row in by_model[PlanGoal].rows()]
        plan = form.instance
        fields = {name: form.cleaned_data.get(name) for name in
                  ("therapist", "program", "referral", "started_on", "visits_per_week", "duration_weeks", "treatment")}
        if change:
            services.update_plan(plan=plan, changed_by=request.user, diagnoses=diagnoses, goals=goals, **fields)
        else:
            services.create_plan(instance=plan, patient=form.cleaned_data["patient"], created_by=request.user,
                                 diagnoses=diagnoses, goals=goals, **fields)
        for certification_form in by_model[Certification].forms:
            data = certification_form.cleaned_data
            if certification_form.instance.pk is None and data and data.get("signed_on"):
                services.record_certification(plan=plan, signed_on=data["signed_on"],
                                              clinician=data.get("clinician", ""), recorded_by=request.user)
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:  # a rule only the service knows (e.g. a certification date): say it
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect(request.get_full_path())

    @admin.display(boolean=True, description="certified")
    def certified(self, plan):
        return bool(plan.certifications.all())

    @admin.display(description="due next")
    def due_next(self, plan):
        due = selectors.due_for_plan(plan)
        return due[0].text if due else "-"

    @admin.display(description="the plan-of-care clock")
    def clock(self, plan):
        if not plan.pk:
            return "-"
        due = selectors.due_for_plan(plan)
        if not due:
            return "Nothing due." if selectors.clock_rules() else "The clinic keeps no plan-of-care clock."
        return format_html("<ul>{}</ul>", format_html_join("", '<li class="{}">{}</li>', (
            ("errornote" if item.overdue else "", item.text) for item in due)))

    @admin.display(description="visit notes")
    def notes_list(self, plan):
        if not plan.pk:
            return "-"
        rows = plan.notes.select_related("appointment", "author").order_by("appointment__start")
        return format_html("<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a> · {} · {}</li>', (
            (reverse("admin:visits_visitnote_change", args=[note.pk]),
             f"{note.appointment.start.astimezone(clinic_zone()):%d %b %Y}", note.get_kind_display(),
             note.get_status_display()) for note in rows))) if rows else "-"


class DiagnosisCodeForm(forms.ModelForm):
    class Meta:
        model = DiagnosisCode
        fields = ["code", "description", "is_active"]

    def clean_code(self):
        return codes.normalise_icd10(self.cleaned_data.get("code", ""))  # the model's validator checks it


@admin.register(DiagnosisCode)
class DiagnosisCodeAdmin(admin.ModelAdmin):
    """The clinic's list of diagnosis codes offered on plans (the curated ones, and any the clinic adds)."""

    form = DiagnosisCodeForm
    list_display = ["code", "description", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "description"]

    def has_delete_permission(self, request, obj=None):
        return False  # plans keep the code and text they were written with; retire a code by unticking "active"


# ---------------------------------------------------------------------------- visit notes


@admin.register(VisitNote)
class VisitNoteAdmin(AccessLoggedAdminMixin, SimpleHistoryAdmin):
    form = VisitNoteForm
    list_display = ["visit", "patient", "kind", "author", "status", "late"]
    list_filter = ["status", "kind"]
    list_select_related = ["patient", "appointment", "author"]
    search_fields = ["patient__record_number", "patient__last_name"]
    show_full_result_count = False
    readonly_fields = ["visit", "patient_link", "plan_link", "status", "signatures", "content_hash",
                       "goal_review_table", "minutes_shown", "addenda_list"]

    def get_fieldsets(self, request, obj=None):
        header = ("Visit", {"fields": [("visit", "patient_link"), ("plan_link", "status")]})
        if obj is not None and self._editable(request, obj):
            body = ("Note (a draft: only you see changes until you sign)",
                    {"fields": ["kind", "subjective", "objective", "assessment", "plan", "minutes"]})
        else:
            body = ("Note", {"fields": ["kind", "subjective", "objective", "assessment", "plan", "minutes_shown"]})
        sets = [header, body]
        if obj is not None and obj.goal_review:
            sets.append(("Goals", {"fields": ["goal_review_table"]}))
        sets.append(("Signatures", {"fields": ["signatures", "content_hash"]}))
        if obj is not None and obj.is_signed:
            sets.append(("Addenda", {"fields": ["addenda_list"]}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self._editable(request, obj):
            return [*self.readonly_fields, "kind", "subjective", "objective", "assessment", "plan"]
        return self.readonly_fields

    @staticmethod
    def _editable(request, note) -> bool:
        return not note.is_signed and note.author_id == request.user.pk

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or self._editable(request, obj))

    def has_delete_permission(self, request, obj=None):
        return False  # a draft is discarded from its page; a signed note is kept for ever

    def get_urls(self):
        def view(name, function):
            return path(f"<int:note_id>/{name}/", self.admin_site.admin_view(function),
                        name=f"visits_visitnote_{name}")

        return [view("sign", self.sign_view), view("cosign", self.cosign_view),
                view("addendum", self.addendum_view), view("pdf", self.pdf_view),
                view("discard", self.discard_view), *super().get_urls()]

    # -- starting a note: the add page asks for the visit and the kind, then the service pre-fills it

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"appointment": request.GET.get("appointment"), "kind": request.GET.get("kind") or "daily"}
        form = StartNoteForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                note = services.start_note(appointment=form.cleaned_data["appointment"], author=request.user,
                                           kind=form.cleaned_data["kind"])
            except ValidationError as error:
                place_errors(error, [form])
            else:
                self.message_user(request, "The note is started from what the clinic knows; check every section, "
                                           "then sign it.", messages.SUCCESS)
                return redirect("admin:visits_visitnote_change", note.pk)
        return self._small_page(request, "Start a visit note", form, "Start the note")

    def save_model(self, request, obj, form, change):
        services.save_note(note=obj, edited_by=request.user, treatment_minutes=form.cleaned_data["minutes"],
                           **{name: form.cleaned_data[name] for name in
                              ("kind", "subjective", "objective", "assessment", "plan")})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect(request.get_full_path())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            user = request.user
            context["note_actions"] = [
                (label, reverse(f"admin:visits_visitnote_{name}", args=[obj.pk]))
                for name, label, shown in [
                    ("sign", "Sign and lock…", self._editable(request, obj)),
                    ("discard", "Discard this draft…", self._editable(request, obj)),
                    ("cosign", "Co-sign…", obj.status == NoteStatus.AWAITING_COSIGNATURE
                     and obj.author_id != user.pk and user.has_role(Role.THERAPIST)),
                    ("addendum", "Add an addendum…", obj.is_signed and user.has_perm("visits.add_addendum")),
                    ("pdf", "PDF", obj.is_signed),
                ] if shown
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    # -- the signature pages

    def _note(self, request, note_id) -> VisitNote:
        note = get_object_or_404(selectors.notes(), pk=note_id)
        if not self.has_view_permission(request, note):
            raise PermissionDenied
        return note

    def _small_page(self, request, title, form, button, note=None):
        return TemplateResponse(request, "admin/visits/visitnote/action.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": title, "form": form,
            "button": button, "note": note, "original": note,
        })

    def _identity_action(self, request, note_id, *, title, button, form_class, act, done):
        note = self._note(request, note_id)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                act(note, form.cleaned_data)
            except ValidationError as error:
                place_errors(error, [form])
            else:
                self.message_user(request, done, messages.SUCCESS)
                return redirect("admin:visits_visitnote_change", note.pk)
        return self._small_page(request, title, form, button, note)

    def sign_view(self, request, note_id):
        return self._identity_action(
            request, note_id, title="Sign and lock this note", button="Sign and lock", form_class=ConfirmIdentityForm,
            act=lambda note, data: services.sign_note(note=note, signer=request.user, password=data["password"],
                                                      code=data["code"], request=request),
            done="Signed. The note is locked: corrections from now on are addenda.")

    def cosign_view(self, request, note_id):
        return self._identity_action(
            request, note_id, title="Co-sign this note", button="Co-sign", form_class=ConfirmIdentityForm,
            act=lambda note, data: services.cosign_note(note=note, therapist=request.user, password=data["password"],
                                                        code=data["code"], request=request),
            done="Co-signed.")

    def addendum_view(self, request, note_id):
        return self._identity_action(
            request, note_id, title="Add a signed addendum", button="Sign the addendum", form_class=AddendumForm,
            act=lambda note, data: services.add_addendum(note=note, author=request.user, reason=data["reason"],
                                                         text=data["text"], password=data["password"],
                                                         code=data["code"], request=request,
                                                         treatment_minutes=data["minutes"]),
            done="The addendum is signed and shown after the note.")

    def discard_view(self, request, note_id):
        note = self._note(request, note_id)
        if request.method == "POST":
            try:
                services.discard_draft(note=note, by=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                return redirect("admin:visits_visitnote_change", note.pk)
            self.message_user(request, "The draft is discarded.", messages.SUCCESS)
            return redirect("admin:visits_visitnote_changelist")
        return self._small_page(request, "Discard this draft?", None, "Discard the draft", note)

    def pdf_view(self, request, note_id):
        note = self._note(request, note_id)
        if not note.is_signed:
            self.message_user(request, "A draft has no PDF: sign it first.", messages.ERROR)
            return redirect("admin:visits_visitnote_change", note.pk)
        response = HttpResponse(pdf.render_note_pdf(note), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{pdf.note_pdf_filename(note)}"'
        record_access(user=request.user, instance=note, via="admin")
        return response

    # -- columns and read-only fields

    @admin.display(description="visit", ordering="appointment__start")
    def visit(self, note):
        return f"{note.appointment.start.astimezone(clinic_zone()):%a %d %b %Y %H:%M}"

    @admin.display(description="patient")
    def patient_link(self, note):
        return format_html('<a href="{}">{}</a>', reverse("admin:patients_patient_change", args=[note.patient_id]),
                           note.patient)

    @admin.display(description="plan of care")
    def plan_link(self, note):
        return format_html('<a href="{}">{}</a>', reverse("admin:visits_planofcare_change",
                                                          args=[note.plan_of_care_id]), note.plan_of_care)

    @admin.display(boolean=True, description="late")
    def late(self, note):
        return note.is_late

    def get_queryset(self, request):
        return selectors.with_lateness(super().get_queryset(request))

    @admin.display(description="signatures")
    def signatures(self, note):
        if not note.is_signed:
            return "Not signed yet."
        zone = clinic_zone()
        lines = [f"Signed by {note.signed_by} on {note.signed_at.astimezone(zone):%d %b %Y %H:%M}."]
        if note.cosigned_at:
            lines.append(f"Co-signed by {note.cosigned_by} on {note.cosigned_at.astimezone(zone):%d %b %Y %H:%M}.")
        elif note.status == NoteStatus.AWAITING_COSIGNATURE:
            lines.append("Awaiting a therapist's co-signature.")
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    @admin.display(description="treatment minutes")
    def minutes_shown(self, note):
        if not note.treatment_minutes:
            return "-"
        known = codes.procedures()
        return format_html_join("", "<div>{} {}: {} min</div>", (
            (row["code"], known[row["code"]].label if row["code"] in known else "",
             row["minutes"]) for row in note.treatment_minutes))

    @admin.display(description="goals")
    def goal_review_table(self, note):
        def shown(value):
            return "-" if value is None else f"{value:g}"

        return format_html("<table><tr><th>Goal</th><th>Target</th><th>Baseline</th><th>Now</th><th>Met</th></tr>{}"
                           "</table>", format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                                            "<td>{}</td></tr>", (
                               (row["goal"], shown(row.get("target")), shown(row.get("baseline")),
                                shown(row.get("current")),
                                "-" if row.get("met") is None else ("yes" if row["met"] else "not yet"))
                               for row in note.goal_review)))

    @admin.display(description="addenda")
    def addenda_list(self, note):
        addenda = list(note.addenda.all())
        if not addenda:
            return "None."
        zone = clinic_zone()
        def corrected(addendum):
            if addendum.treatment_minutes is None:
                return ""
            rows = ", ".join(f"{row['code']} {row['minutes']} min" for row in addendum.treatment_minutes)
            return f"Minutes corrected to: {rows or 'none'}."

        return format_html_join("", '<div class="addendum"><p><strong>{} · {}</strong> · reason: {}</p>'
                                    '<p style="white-space: pre-wrap">{}</p><p>{}</p></div>', (
                                    (f"{a.signed_at.astimezone(zone):%d %b %Y %H:%M}", a.author, a.reason, a.text,
                                     corrected(a))
                                    for a in addenda))
