from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.assessments import selectors, services
from apps.assessments.models import SIDE_FINDING_FIELDS, Assessment, Complaint, OutcomeMeasure, SideFindings
from apps.ops.access import AccessLoggedRetrieveMixin, record_access
from apps.patients.models import Patient
from hipclinic.api import call_service


class SideFindingsSerializer(serializers.ModelSerializer):
    side = serializers.ChoiceField(choices=["left", "right"], help_text="Required: which side these findings are.")

    class Meta:
        model = SideFindings
        fields = [*SIDE_FINDING_FIELDS, "best_newtons", "knee_hold_pass"]
        read_only_fields = ["best_newtons", "knee_hold_pass"]


class AssessmentSerializer(serializers.ModelSerializer):
    complaints = serializers.ListField(child=serializers.ChoiceField(choices=Complaint.choices), required=False)
    sides = SideFindingsSerializer(many=True, required=False)
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())

    class Meta:
        model = Assessment
        fields = ["id", "patient", "therapist", "appointment", "assessed_on", "complaints", "clinical_history",
                  "pain_now", "pain_worst_week", "surgeon_clearance", "sides", "classification",
                  "classification_reasons", "warnings", "limb_symmetry_index", "suggested_rung", "rung_reasons",
                  "created_at", "updated_at"]
        read_only_fields = ["therapist", "classification", "classification_reasons", "warnings",
                            "limb_symmetry_index", "suggested_rung", "rung_reasons", "created_at", "updated_at"]

    def _save(self, assessment, validated_data):
        sides = validated_data.pop("sides", [])
        for name, value in validated_data.items():
            setattr(assessment, name, value)
        return call_service(services.record_assessment, assessment=assessment, sides=sides,
                            recorded_by=self.context["request"].user)

    def create(self, validated_data):
        return self._save(Assessment(therapist=self.context["request"].user), validated_data)

    def update(self, assessment, validated_data):
        return self._save(assessment, validated_data)


class AssessmentViewSet(AccessLoggedRetrieveMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Assessments with per-side findings; classification, reasons and rung are computed."""

    serializer_class = AssessmentSerializer
    filterset_fields = ["patient", "classification"]
    ordering_fields = ["assessed_on"]

    def get_queryset(self):
        return selectors.assessments().order_by("-assessed_on", "-id")


class ChangeSerializer(serializers.Serializer):
    baseline = serializers.FloatField()
    delta = serializers.FloatField()
    percent = serializers.FloatField(allow_null=True)
    improved = serializers.BooleanField()
    mcid_reached = serializers.BooleanField()
    threshold = serializers.CharField()


class OutcomeMeasureSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    items = serializers.JSONField(help_text="NPRS [score]; LEFS 20 item scores 0-4 (null when unanswered); "
                                            "Oswestry 10 section scores 0-5; PSFS [[activity, score], ...].")
    change_from_baseline = serializers.SerializerMethodField()

    class Meta:
        model = OutcomeMeasure
        fields = ["id", "patient", "assessment", "measure", "recorded_on", "items", "source", "score", "complete",
                  "missing_items", "score_note", "change_from_baseline", "created_at"]
        read_only_fields = ["score", "complete", "missing_items", "score_note", "created_at"]

    @extend_schema_field(ChangeSerializer(allow_null=True))
    def get_change_from_baseline(self, outcome) -> dict | None:
        return selectors.change_from_baseline(outcome)

    def create(self, validated_data):
        return self._save(OutcomeMeasure(**validated_data))

    def update(self, outcome, validated_data):
        for name, value in validated_data.items():
            setattr(outcome, name, value)
        return self._save(outcome)

    def _save(self, outcome):
        outcome = call_service(services.record_outcome, outcome=outcome, recorded_by=self.context["request"].user)
        return selectors.outcome_measures().get(pk=outcome.pk)  # with its baseline, for the change


class OutcomeMeasureViewSet(AccessLoggedRetrieveMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.CreateModelMixin,
                            mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Outcome measures, each with its change from the patient's first score of that measure."""

    serializer_class = OutcomeMeasureSerializer
    filterset_fields = ["patient", "measure", "source"]
    ordering_fields = ["recorded_on"]

    def get_queryset(self):
        return selectors.outcome_measures().order_by("patient", "measure", "recorded_on", "id")


class CanViewAssessments(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated
                    and request.user.has_perm("assessments.view_assessment"))


class ProgressView(APIView):
    """What the progress chart draws: per-side strength, pain and every outcome measure over time."""

    permission_classes = [CanViewAssessments]

    @extend_schema(responses=inline_serializer("Progress", {
        "patient": serializers.IntegerField(), "strength": serializers.ListField(child=serializers.DictField()),
        "pain": serializers.ListField(child=serializers.DictField()), "measures": serializers.DictField(),
        "summary": serializers.ListField(child=serializers.CharField()),
    }))
    def get(self, request, pk: int):
        patient = get_object_or_404(Patient, pk=pk)
        record_access(user=request.user, instance=patient, via="api")
        return Response(selectors.progress(patient))
