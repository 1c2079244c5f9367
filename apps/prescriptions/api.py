from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.ops.access import AccessLoggedRetrieveMixin
from apps.patients.models import Patient
from apps.patients.selectors import latest_referral_cause
from apps.prescriptions import dosing, services
from apps.prescriptions.extras import PROGRAM_FIGURES, with_figures
from apps.prescriptions.models import Exercise, Program, ProgramItem, ProgramVersion
from hipclinic.api import SlugRelatedField, as_api_error, call_service


class ExerciseSerializer(serializers.ModelSerializer):
    instructions = serializers.ListField(child=serializers.CharField(max_length=300), min_length=1)
    cautions = serializers.DictField(child=serializers.CharField(max_length=500), required=False)

    class Meta:
        model = Exercise
        fields = ["id", "name", "slug", "ladder_rank", "muscle_bias", "equipment", "instructions", "per_side",
                  "dose_type", "default_sets", "min_sets", "max_sets", "default_dose_low", "default_dose_high",
                  "min_dose", "max_dose", "load_unit", "max_load", "loaded_or_resisted", "cautions", "video_url",
                  "is_active"]

    def validate(self, attrs):
        candidate = Exercise(**{**({f.name: getattr(self.instance, f.name) for f in Exercise._meta.fields}
                                   if self.instance else {}), **attrs})
        try:
            candidate.clean()
        except ValidationError as error:
            raise as_api_error(error) from None
        return attrs

    def create(self, validated_data):
        return self._save(Exercise(), validated_data)

    def update(self, exercise, validated_data):
        return self._save(exercise, validated_data)

    def _save(self, exercise, validated_data):
        for name, value in validated_data.items():
            setattr(exercise, name, value)
        return call_service(services.save_exercise, exercise=exercise, by=self.context["request"].user)


class ExerciseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The exercise library, easiest first. Exercises are retired (is_active=false), never deleted."""

    serializer_class = ExerciseSerializer
    queryset = Exercise.objects.ladder()
    filterset_fields = ["is_active", "equipment", "muscle_bias", "ladder_rank"]


def programs_for_api():
    """Programs with their items, versions, registered figures and the patient's latest referral cause."""
    programs = Program.objects.annotate(referral_cause=latest_referral_cause("patient"))
    return with_figures(programs.prefetch_related("items__exercise", "versions")).order_by("-start_date", "-id")


class ProgramItemSerializer(serializers.ModelSerializer):
    exercise = SlugRelatedField(slug_field="slug", queryset=Exercise.objects.all())
    dose = serializers.CharField(source="dose_text", read_only=True)
    caution = serializers.SerializerMethodField()

    class Meta:
        model = ProgramItem
        fields = ["id", "exercise", "order", "sets", "dose_low", "dose_high", "load", "side", "notes",
                  "caution_acknowledged", "caution", "dose"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        # The exercise's own limits, shown against this item's fields (the service checks them again).
        # An item missing a field is left to ProgramSerializer.validate_items, which names what is missing.
        if any(name not in attrs for name in ("exercise", "sets", "dose_low", "dose_high")):
            return attrs
        problems = dosing.dose_problems(dosing.limits_of(attrs["exercise"]), sets=attrs.get("sets"),
                                        dose_low=attrs.get("dose_low"), dose_high=attrs.get("dose_high"),
                                        load=attrs.get("load"))
        if problems:
            raise serializers.ValidationError(problems)
        return attrs

    def get_caution(self, item) -> str:
        # Programs are read through programs_for_api(), annotated with their referral cause
        # (no query per program); prefetched items point at that program.
        return item.exercise.caution_for(item.program.referral_cause)


class ProgramSerializer(serializers.ModelSerializer):
    """A program and its items. The status is read-only: it changes through the activate, pause,
    complete and stop actions, which apply the safety rules."""

    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    items = ProgramItemSerializer(many=True, required=False)
    current_version = serializers.SerializerMethodField()

    class Meta:
        model = Program
        fields = ["id", "patient", "therapist", "source_assessment", "start_date", "weeks", "sessions_per_week",
                  "goals", "status", "activated_at", "surgeon_clearance", "surgeon_clearance_note", "items",
                  "current_version", "created_at", "updated_at"]
        read_only_fields = ["therapist", "status", "activated_at", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        for figure in PROGRAM_FIGURES.values():  # adherence, from followups
            if figure.api_field is not None:
                fields[figure.name] = figure.api_field()
        return fields

    def get_current_version(self, program) -> int | None:
        versions = list(program.versions.all())  # prefetched
        return versions[-1].number if versions else None

    def validate_items(self, items):
        # The items given replace the program's list, so each must be whole, even in a PATCH
        # (DRF passes a PATCH's leave-fields-out down to nested items).
        required = [name for name, field in ProgramItemSerializer().fields.items() if field.required]
        missing = [{name: ["This field is required."] for name in required if name not in item} for item in items]
        if any(missing):
            raise serializers.ValidationError(missing)
        return items

    def _save(self, program, validated_data):
        items_data = validated_data.pop("items", None)
        for name, value in validated_data.items():
            setattr(program, name, value)
        # An item without an order takes its place in the list (the model's default is 1).
        items = None if items_data is None else [ProgramItem(**{"order": n, **data})
                                                 for n, data in enumerate(items_data, start=1)]
        program = call_service(services.save_program, program=program, items=items, by=self.context["request"].user)
        return programs_for_api().get(pk=program.pk)  # as the list reads it, with its referral cause

    def create(self, validated_data):
        return self._save(Program(therapist=self.context["request"].user), validated_data)

    def update(self, program, validated_data):
        return self._save(program, validated_data)


class ProgramVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProgramVersion
        fields = ["number", "items", "changes", "created_by", "created_at"]


class ProgramViewSet(AccessLoggedRetrieveMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Home programs with their items (writable, nested). Changing an active program's items
    makes a new version; ``versions/`` lists them all. ``activate/`` applies the safety rules."""

    serializer_class = ProgramSerializer
    filterset_fields = ["patient", "status"]

    def get_queryset(self):
        return programs_for_api()

    def _status_action(self, request, service):
        program = call_service(service, program=self.get_object(), by=request.user)
        return Response(ProgramSerializer(self.get_queryset().get(pk=program.pk), context={"request": request}).data)

    @extend_schema(request=None, responses=ProgramSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Make this draft or paused program the patient's active one (refused, with reasons, if unsafe);
        the patient is e-mailed their program."""
        return self._status_action(request, services.activate_program)

    @extend_schema(request=None, responses=ProgramSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Hold an active program until it is activated again."""
        return self._status_action(request, services.pause_program)

    @extend_schema(request=None, responses=ProgramSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """End an active or paused program that has run its course."""
        return self._status_action(request, services.complete_program)

    @extend_schema(request=None, responses=ProgramSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        """End an active or paused program early."""
        return self._status_action(request, services.stop_program)

    # The whole list, unpaged and unfiltered: the list's filters and paging are not this action's.
    @extend_schema(responses=ProgramVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def versions(self, request, pk=None):
        program = self.get_object()
        return Response(ProgramVersionSerializer(program.versions.order_by("number"), many=True).data)
