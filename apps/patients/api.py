from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.patients import selectors, services
from apps.patients.models import Patient, RedFlag, RedFlagDecision, Referral
from hipclinic.api import ListPagination, as_api_error, call_service, query_flag


class PatientSerializer(serializers.ModelSerializer):
    red_flag_alert = serializers.BooleanField(read_only=True, default=False,
                                              help_text="A positive red-flag screen awaits a therapist's decision.")
    archived = serializers.BooleanField(source="is_archived", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "record_number", "first_name", "last_name", "date_of_birth", "sex", "email", "phone",
            "time_zone", "preferred_contact", "email_consent", "email_consent_changed_at", "notes",
            "archived", "red_flag_alert",
        ]
        read_only_fields = ["record_number", "email_consent_changed_at"]

    def create(self, validated_data):
        return services.register_patient(patient=Patient(**validated_data), registered_by=self.context["request"].user)

    def update(self, patient, validated_data):
        for name, value in validated_data.items():
            setattr(patient, name, value)
        return call_service(services.update_patient, patient=patient, changed_by=self.context["request"].user)


class PatientViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Patients. Never deleted: archive them (``POST .../archive/``)."""

    serializer_class = PatientSerializer
    filterset_fields = ["sex", "email_consent"]
    ordering_fields = ["last_name", "record_number", "date_of_birth"]
    pagination_class = ListPagination
    estimate_params = {"archived"}  # the whole (active) list: a large one gets an estimated count

    def get_queryset(self):
        include_archived = self.action != "list" or query_flag(self.request, "archived")
        return selectors.patient_list(text=self.request.query_params.get("q", ""), include_archived=include_archived)

    @extend_schema(parameters=[
        OpenApiParameter("q", str, description="name, record number, e-mail, phone or date of birth (YYYY-MM-DD)"),
        OpenApiParameter("archived", bool, description="include archived patients"),
    ])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=PatientSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        patient = call_service(services.archive_patient, patient=self.get_object(), archived_by=request.user)
        annotated = selectors.with_red_flag_alert(Patient.objects.filter(pk=patient.pk)).get()
        return Response(PatientSerializer(annotated).data)


class ReferralSerializer(serializers.ModelSerializer):
    red_flags = serializers.ListField(child=serializers.ChoiceField(choices=RedFlag.choices), required=False)
    red_flag_positive = serializers.BooleanField(read_only=True)
    red_flag_unresolved = serializers.BooleanField(read_only=True)
    # Declared so the schema says what an undecided referral answers: "" (a read-only model
    # field loses allow_blank in DRF, and the schema then listed only the two decisions).
    red_flag_decision = serializers.ChoiceField(choices=RedFlagDecision.choices, allow_blank=True, read_only=True,
                                                help_text="Blank until a therapist decides.")

    class Meta:
        model = Referral
        fields = [
            "id", "patient", "cause", "cause_other", "referring_clinician", "referral_date", "surgery_date",
            "reason", "red_flags", "red_flag_positive", "red_flag_unresolved", "red_flag_decision",
            "red_flag_decision_note", "red_flag_decided_by", "red_flag_decided_at", "created_at",
        ]
        read_only_fields = ["red_flag_decision", "red_flag_decision_note", "red_flag_decided_by",
                            "red_flag_decided_at", "created_at"]

    # Clinical parts of a referral, hidden from roles that may not see the screen.
    CLINICAL = {"reason", "red_flags", "red_flag_decision", "red_flag_decision_note", "red_flag_decided_by",
                "red_flag_decided_at"}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not request.user.has_perm("patients.view_red_flag_screen"):
            for name in self.CLINICAL:
                fields.pop(name, None)
        return fields

    def validate(self, attrs):
        current = {}
        if self.instance is not None:
            current = {f.name: getattr(self.instance, f.name) for f in Referral._meta.fields if f.name != "id"}
        candidate = Referral(**{**current, **attrs})
        try:
            candidate.full_clean(exclude=["patient"])
        except ValidationError as error:
            raise as_api_error(error) from None
        if candidate.patient.is_archived:
            raise serializers.ValidationError({"patient": ["This patient is archived: restore the record first."]})
        return attrs

    def create(self, validated_data):
        return services.add_referral(referral=Referral(**validated_data), added_by=self.context["request"].user)

    def update(self, referral, validated_data):
        for name, value in validated_data.items():
            setattr(referral, name, value)
        return call_service(services.update_referral, referral=referral, changed_by=self.context["request"].user)


class ReferralViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = ReferralSerializer
    queryset = Referral.objects.select_related("patient").order_by("-referral_date", "-id")
    filterset_fields = ["patient", "cause"]

