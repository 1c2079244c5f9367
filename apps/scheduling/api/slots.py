"""Read APIs for booking: therapists with their working hours, and free slots.

``GET /api/v1/slots/`` answers a plain JSON list, not a page: the search range is capped
at ``SLOT_SEARCH_MAX_DAYS``, so the list is bounded, and a desk page showing a week
wants all of it at once (a page of a computed list would recompute the whole list for
every page anyway). Clients narrow it with ``therapist`` and a shorter range.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.scheduling import selectors
from apps.scheduling.models import AppointmentKind, Therapist, WorkingHours
from hipclinic.zones import clinic_zone

# Far enough from date.min and date.max that a day either side never overflows.
EARLIEST_YEAR, LATEST_YEAR = 1901, 9998
DATE_OR_DATETIME_HELP = (
    "A date (YYYY-MM-DD: the whole day in the clinic's time zone, an end date included) or an ISO 8601 "
    "date-time (without an offset, read as clinic time). Encode '+' in an offset as %2B."
)


# ---------------------------------------------------------------------------- therapists


class WorkingHoursSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkingHours
        fields = ["id", "weekday", "start_time", "end_time"]


class TherapistSerializer(serializers.ModelSerializer):
    working_hours = WorkingHoursSerializer(many=True, read_only=True)

    class Meta:
        model = Therapist
        fields = ["id", "display_name", "is_active", "working_hours"]


class TherapistViewSet(viewsets.ReadOnlyModelViewSet):
    """Therapists and their weekly working hours (weekday 0 is Monday; times are clinic wall-clock times)."""

    serializer_class = TherapistSerializer
    queryset = selectors.therapists()
    filterset_fields = ["is_active"]
    ordering_fields = ["display_name", "id"]


# ---------------------------------------------------------------------------- slots


class CanViewAppointments(BasePermission):
    """Signed in, with ``scheduling.view_appointment`` from the user's role (free slots reveal bookings)."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("scheduling.view_appointment"))


@extend_schema_field(OpenApiTypes.STR)
class DateOrDateTimeField(serializers.Field):
    default_error_messages = {
        "invalid": "Enter a date (YYYY-MM-DD) or an ISO 8601 date-time.",
        "out_of_range": f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}.",
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else parse_datetime(text)
        except ValueError:
            value = None
        if value is None:
            self.fail("invalid")
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            self.fail("out_of_range")
        return value

    def to_representation(self, value):
        return value.isoformat()


class SlotQuerySerializer(serializers.Serializer):
    kind = serializers.SlugField(help_text="An appointment kind's slug, e.g. follow_up.")
    therapist = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="An active therapist's id; all of them if left out."
    )
    start = DateOrDateTimeField(help_text=DATE_OR_DATETIME_HELP)
    end = DateOrDateTimeField(help_text=DATE_OR_DATETIME_HELP)

    def validate_kind(self, slug):
        kind = AppointmentKind.objects.filter(slug=slug, is_active=True).first()
        if kind is None:
            raise serializers.ValidationError(f"No active appointment kind {slug!r}.")
        return kind

    def validate_therapist(self, pk):
        therapist = Therapist.objects.filter(pk=pk, is_active=True).first()
        if therapist is None:
            raise serializers.ValidationError(f"No active therapist {pk}.")
        return therapist

    def validate(self, attrs):
        window_start, window_end = selectors.search_window(attrs["start"], attrs["end"])
        if window_end <= window_start:
            raise serializers.ValidationError({"end": "The end must be after the start."})
        zone = clinic_zone()
        last_moment = window_end - timedelta(microseconds=1)
        days = (last_moment.astimezone(zone).date() - window_start.astimezone(zone).date()).days + 1
        if days > settings.SLOT_SEARCH_MAX_DAYS:
            raise serializers.ValidationError(
                {"end": f"Search at most {settings.SLOT_SEARCH_MAX_DAYS} days at a time (this asks for {days})."}
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    """A free slot, as documented; ``SlotsView`` writes the same fields directly for speed."""

    therapist = serializers.IntegerField(source="therapist_id")
    therapist_name = serializers.CharField()
    kind = serializers.SlugField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class SlotsView(APIView):
    """Free slots of one kind, for one therapist or every active one, oldest first."""

    permission_classes = [CanViewAppointments]

    @extend_schema(
        parameters=[SlotQuerySerializer],
        responses={200: SlotSerializer(many=True), 400: OpenApiTypes.OBJECT},
        description=(
            "Free slots: working hours minus active appointments and time off, starting on a grid of "
            "SLOT_STEP_MINUTES from the start of each working block, never in the past. Sorted by start, "
            "then therapist. Not paged: the range is capped at SLOT_SEARCH_MAX_DAYS days (62 by default). "
            "A refused query answers 400 with field errors."
        ),
    )
    def get(self, request):
        query = SlotQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = selectors.free_slots(
            kind=query.validated_data["kind"],
            therapist=query.validated_data.get("therapist"),
            start_date=query.validated_data["start"],
            end_date=query.validated_data["end"],
        )
        # SlotSerializer's fields written by hand, as DRF writes date-times (clinic offset, "Z"
        # for UTC): its per-value time-zone look-up costs several times the search itself on
        # a long range (about 67,000 slots for 50 therapists over 62 days).
        zone = timezone.get_current_timezone()

        def when(value):
            text = value.astimezone(zone).isoformat()
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return Response([
            {"therapist": slot.therapist_id, "therapist_name": slot.therapist_name, "kind": slot.kind,
             "start": when(slot.start), "end": when(slot.end)}
            for slot in found
        ])
