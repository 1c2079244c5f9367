"""Plans of care through the API: written through ``apps.visits.services``; reading one writes the access log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.models import User
from apps.assessments.models import MeasureKind
from apps.ops.access import AccessLoggedRetrieveMixin
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Program
from apps.visits import selectors, services
from apps.visits.api.permissions import Holds
from apps.visits.models import Certification, PlanOfCare
from hipclinic.api import call_service


class DiagnosisSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=16, help_text="ICD-10-CM, e.g. M16.11 (M1611 is read as M16.11).")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="",
                                        help_text="Optional for a code on the clinic's list (its text is used).")


class GoalSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=300)
    measure = serializers.ChoiceField(choices=MeasureKind.choices, required=False, allow_blank=True, default="")
    target = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True, default=None,
                                      help_text="The score to reach on the measure (at least it, or at most it "
                                                "where lower is better).")


class CertificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Certification
        fields = ["id", "signed_on", "clinician", "recorded_by", "recorded_at"]
        read_only_fields = ["recorded_by", "recorded_at"]


class DueSerializer(serializers.Serializer):
    what = serializers.ChoiceField(choices=["certification", "recertification", "progress_report",
                                            "discharge_summary"])
    text = serializers.CharField()
    due_on = serializers.DateField(allow_null=True)
    at_visit = serializers.IntegerField(allow_null=True, help_text="The visit's number in the plan, counted from 1.")
    appointment = serializers.IntegerField(source="appointment_id", allow_null=True)
    overdue = serializers.BooleanField()


class PlanOfCareSerializer(serializers.ModelSerializer):
    """A plan with its diagnoses, goals (both replaced as a whole when given), certifications and
    what the plan-of-care clock says is due next."""

    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    therapist = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False,
                                                   help_text="A therapist; you, when left out.")
    referral = serializers.PrimaryKeyRelatedField(queryset=Referral.objects.all(), required=False, allow_null=True)
    program = serializers.PrimaryKeyRelatedField(queryset=Program.objects.all(), required=False, allow_null=True)
    visits_per_week = serializers.IntegerField(min_value=1, max_value=7)
    duration_weeks = serializers.IntegerField(min_value=1, max_value=52)
    diagnoses = DiagnosisSerializer(many=True)
    goals = GoalSerializer(many=True, required=False)
    certifications = CertificationSerializer(many=True, read_only=True)
    due = serializers.SerializerMethodField()

    class Meta:
        model = PlanOfCare
        fields = ["id", "patient", "therapist", "referral", "program", "started_on", "visits_per_week",
                  "duration_weeks", "treatment", "status", "discharged_on", "diagnoses", "goals", "certifications",
                  "due", "created_by", "created_at", "updated_at"]
        read_only_fields = ["status", "discharged_on", "created_by", "created_at", "updated_at"]
        # The service refuses a second open plan by its field, with the reason.
        validators = []

    @extend_schema_field(DueSerializer(many=True))
    def get_due(self, plan) -> list:
        due = self.context.get("due")
        items = due.get(plan.pk, []) if due is not None else selectors.due_for_plan(plan)
        return DueSerializer(items, many=True).data

    def validate_started_on(self, day):
        problem = services.plan_start_problem(day)  # the service's rule, checked here to answer before the write
        if problem:
            raise serializers.ValidationError(problem)
        return day

    def validate_patient(self, patient):
        if self.instance is not None and patient.pk != self.instance.patient_id:
            raise serializers.ValidationError("A plan's patient does not change: open a new plan for them.")
        return patient

    def create(self, validated_data):
        user = self.context["request"].user
        return call_service(
            services.create_plan, created_by=user, therapist=validated_data.pop("therapist", user),
            diagnoses=validated_data.pop("diagnoses"), goals=validated_data.pop("goals", []), **validated_data)

    def update(self, plan, validated_data):
        validated_data.pop("patient", None)
        return call_service(services.update_plan, plan=plan, changed_by=self.context["request"].user,
                            diagnoses=validated_data.pop("diagnoses", None), goals=validated_data.pop("goals", None),
                            **validated_data)


class CertificationInputSerializer(serializers.Serializer):
    signed_on = serializers.DateField(help_text="The date on the referring clinician's signature.")
    clinician = serializers.CharField(max_length=200, help_text="The referring clinician who signed.")


@extend_schema_view(
    create=extend_schema(description="Open a plan of care for a patient (therapists; one open plan per patient)."),
    partial_update=extend_schema(description="Change an open plan (therapists). `diagnoses` and `goals`, when "
                                             "given, replace the plan's lists."),
)
class PlanOfCareViewSet(AccessLoggedRetrieveMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Plans of care, newest first, each with its diagnoses, goals, certifications and the clock's `due`
    items. Discharged by signing a discharge summary, never deleted."""

    serializer_class = PlanOfCareSerializer
    filterset_fields = ["patient", "status", "therapist"]
    ordering_fields = ["started_on"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.plans().order_by("-started_on", "-id")

    def get_permissions(self):
        if self.action == "certifications":
            # Written by therapists on the plan (the admin's rule too); the front desk, whom the
            # service would also allow, has no view of plans at all.
            return [Holds("visits.view_planofcare", "visits.add_certification")]
        return super().get_permissions()

    def list(self, request, *args, **kwargs):
        plans = list(self.paginate_queryset(self.filter_queryset(self.get_queryset())))
        due = selectors.due_for_plans(plans)  # for the whole page at once: the same queries at any length
        serializer = self.get_serializer(plans, many=True, context={**self.get_serializer_context(), "due": due})
        return self.get_paginated_response(serializer.data)

    def _fresh(self, plan: PlanOfCare) -> dict:
        return self.get_serializer(self.get_queryset().get(pk=plan.pk)).data

    def perform_create(self, serializer):
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)

    def perform_update(self, serializer):
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)

    @extend_schema(request=CertificationInputSerializer, responses={201: PlanOfCareSerializer})
    @action(detail=True, methods=["post"])
    def certifications(self, request, pk=None):
        """Record the referring clinician's signature on the plan (the first certification or a
        re-certification); answers the plan."""
        plan = self.get_object()
        given = CertificationInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        call_service(services.record_certification, plan=plan, recorded_by=request.user, **given.validated_data)
        return Response(self._fresh(plan), status=status.HTTP_201_CREATED)
