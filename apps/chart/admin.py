"""The patient's admin page with what the other apps know of them: appointments, the intake
questionnaire, the progress chart and adherence to the active program."""

from django.contrib import admin
from django.urls import reverse

from apps.assessments.intake import send_intake_action
from apps.followups.selectors import weekly_adherence
from apps.patients.admin import PatientAdmin
from apps.patients.models import Patient
from apps.prescriptions.services import current_program
from apps.scheduling.models import Appointment
from apps.visits import selectors as visit_selectors
from apps.visits.models import PlanOfCare, VisitNote


class AppointmentInline(admin.TabularInline):
    model = Appointment
    extra = 0
    fields = ["start", "end", "kind", "therapist", "status"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ["-start"]

    def has_add_permission(self, request, obj=None):
        return False  # booking goes through the desk or the API, which check the rota and overlaps

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("kind", "therapist")


admin.site.unregister(Patient)


@admin.register(Patient)
class PatientChartAdmin(PatientAdmin):
    change_form_template = "chart/patient_change_form.html"
    inlines = [*PatientAdmin.inlines, AppointmentInline]
    actions = [*PatientAdmin.actions, send_intake_action]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The progress chart, assessments and adherence are clinical: shown only to roles that may see them.
        extra_context = extra_context or {}
        if request.user.has_perm("assessments.view_assessment"):
            extra_context["progress_url"] = reverse("api-patient-progress", kwargs={"pk": object_id})
        if request.user.has_perm("prescriptions.view_program"):
            program = current_program(Patient(pk=object_id))
            if program is not None:
                extra_context["adherence"] = weekly_adherence(program)
                extra_context["adherence_program"] = program
        if request.user.has_perm("visits.view_visitnote"):
            extra_context.update(self._visits(request, object_id))
        if request.user.has_perm("assessments.add_assessment"):
            extra_context["add_assessment_url"] = (
                reverse("admin:assessments_assessment_add") + f"?patient={object_id}"
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _visits(request, patient_id) -> dict:
        """The plan of care, what its clock says is due, and every visit note with its addenda and PDF."""
        plan = PlanOfCare.objects.filter(patient_id=patient_id).prefetch_related("diagnoses", "certifications") \
            .order_by("status", "-started_on").first()  # the open plan first ("open" < "discharged")
        notes = (VisitNote.objects.filter(patient_id=patient_id).select_related("appointment", "author")
                 .prefetch_related("addenda").order_by("-appointment__start"))
        context = {"care_plan": plan, "care_plan_due": visit_selectors.due_for_plan(plan) if plan else [],
                   "visit_notes": notes, "show_visits": True}
        if request.user.has_perm("visits.add_planofcare") and (plan is None or not plan.is_open):
            context["add_plan_url"] = reverse("admin:visits_planofcare_add") + f"?patient={patient_id}"
        return context
