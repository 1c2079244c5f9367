from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.patients.models import Patient
from apps.scheduling import services
from apps.scheduling.models import (
    SERIES_MAX_INTERVAL_WEEKS,
    SERIES_MAX_OCCURRENCES,
    Appointment,
    AppointmentKind,
    Therapist,
    WaitlistEntry,
)
from hipclinic.api import SlugRelatedField, as_api_error, call_service
from hipclinic.openapi import field_errors_schema


class AppointmentSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    therapist = serializers.PrimaryKeyRelatedField(queryset=Therapist.objects.all())
    kind = SlugRelatedField(slug_field="slug", queryset=AppointmentKind.objects.all())
    end = serializers.DateTimeField(required=False, help_text="Defaults to start + the kind's length.")
    overlap_reason = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                           help_text="Clinic managers only: why this deliberate overlap.")

    class Meta:
        model = Appointment
        fields = ["id", "patient", "therapist", "kind", "start", "end", "status", "overlap_reason", "series",
                  "created_at"]
        read_only_fields = ["status", "series", "created_at"]

    def create(self, validated_data):
        return call_service(services.book_appointment, booked_by=self.context["request"].user, **validated_data)

    def update(self, appointment, validated_data):
        unchangeable = {"patient", "kind"} & {
            name for name, value in validated_data.items() if value != getattr(appointment, name)
        }
        if unchangeable:
            raise serializers.ValidationError(
                {name: ["Cancel and book again to change this."] for name in sorted(unchangeable)}
            )
        return call_service(
            services.reschedule_appointment,
            appointment=appointment,
            start=validated_data.get("start", appointment.start),
            end=validated_data.get("end"),
            therapist=validated_data.get("therapist"),
            overlap_reason=validated_data.get("overlap_reason"),
            changed_by=self.context["request"].user,
        )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True, required=False, default="")


class AppointmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Appointments: book (POST), move (PATCH start/end/therapist), and status actions.

    Appointments are never deleted: cancel them with a reason.
    """

    serializer_class = AppointmentSerializer
    queryset = Appointment.objects.select_related("kind").order_by("start", "id")
    filterset_fields = {"patient": ["exact"], "therapist": ["exact"], "status": ["exact"],
                        "start": ["gte", "lt"]}
    ordering_fields = ["start"]

    def _act(self, request, service, **kwargs):
        try:
            appointment = service(appointment=self.get_object(), **kwargs)
        except ValidationError as error:
            raise as_api_error(error) from None
        return Response(AppointmentSerializer(appointment, context={"request": request}).data)

    @extend_schema(request=ReasonSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(request, services.cancel_appointment, cancelled_by=request.user,
                         reason=body.validated_data["reason"])

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        return self._act(request, services.check_in, changed_by=request.user)

    @extend_schema(request=ReasonSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._act(request, services.mark_no_show, changed_by=request.user,
                         reason=body.validated_data["reason"])

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._act(request, services.complete_appointment, changed_by=request.user)


class SeriesSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    therapist = serializers.PrimaryKeyRelatedField(queryset=Therapist.objects.all())
    kind = SlugRelatedField(slug_field="slug", queryset=AppointmentKind.objects.all())
    first_start = serializers.DateTimeField()
    interval_weeks = serializers.IntegerField(min_value=1, max_value=SERIES_MAX_INTERVAL_WEEKS, default=1)
    occurrences = serializers.IntegerField(min_value=1, max_value=SERIES_MAX_OCCURRENCES)


SeriesResultSerializer = inline_serializer("SeriesResult", {
    "series": serializers.IntegerField(allow_null=True),
    "booked": AppointmentSerializer(many=True),
    "clashes": inline_serializer("SeriesClash", {"start": serializers.DateTimeField(),
                                                 "problems": serializers.DictField()}, many=True),
})


class SeriesViewSet(viewsets.GenericViewSet):
    """Recurring series: one appointment per occurrence; clashing occurrences are reported."""

    queryset = Appointment.objects.none()  # permissions: scheduling.add_appointment
    serializer_class = SeriesSerializer

    @extend_schema(request=SeriesSerializer, responses={
        201: SeriesResultSerializer,
        # Either refused input (messages by field) or, when every occurrence clashed, the result.
        400: OpenApiResponse({"anyOf": [{"$ref": "#/components/schemas/SeriesResult"}, field_errors_schema()]},
                             description="Refused input, or every occurrence clashed (nothing booked)."),
    })
    def create(self, request):
        body = SeriesSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = call_service(services.book_series, booked_by=request.user, **body.validated_data)
        data = {
            "series": result.series.pk if result.series else None,
            "booked": AppointmentSerializer(result.booked, many=True, context={"request": request}).data,
            "clashes": [{"start": clash.start, "problems": clash.problems} for clash in result.clashes],
        }
        return Response(data, status=status.HTTP_201_CREATED if result.booked else status.HTTP_400_BAD_REQUEST)


class WaitlistSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    kind = SlugRelatedField(slug_field="slug", queryset=AppointmentKind.objects.all())

    class Meta:
        model = WaitlistEntry
        fields = ["id", "patient", "kind", "therapist", "current_appointment", "earliest", "latest", "status",
                  "note", "created_at"]
        read_only_fields = ["status", "created_at"]

    def create(self, validated_data):
        return call_service(services.add_to_waitlist, created_by=self.context["request"].user, **validated_data)


class WaitlistViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      viewsets.GenericViewSet):
    serializer_class = WaitlistSerializer
    queryset = WaitlistEntry.objects.select_related("kind").order_by("created_at", "id")
    filterset_fields = ["patient", "status", "kind"]
