"""Plans of care and visit notes through the API; every write is a call to ``apps.visits.services``.

Signing, co-signing and addenda take the signer's password (and one-time code) in the body:
write-only fields, handed to the service and never echoed back. Reading one plan, one note,
a note's addenda or its PDF writes the access log.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.accounts.models import User
from apps.assessments.models import MeasureKind
from apps.ops.access import AccessLoggedRetrieveMixin, record_access
from apps.patients.models import Patient, Referral
from apps.prescriptions.models import Program
from apps.scheduling.models import Appointment
from apps.visits import codes, pdf, selectors, services
from apps.visits.models import Addendum, Certification, NoteKind, PlanOfCare, VisitNote
from hipclinic.api import RolePermissions, call_service
from hipclinic.openapi import ERROR_DETAIL, FIELD_ERRORS_DESCRIPTION, field_errors_schema
from hipclinic.zones import clinic_today

# ---------------------------------------------------------------------------- shared parts


class Holds(BasePermission):
    """Signed in and holding every one of ``perms`` (for actions whose model is not the viewset's)."""

    def __init__(self, *perms: str):
        self.perms = perms

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms))


class SignatureSerializer(serializers.Serializer):
    """The signer's identity, asked again at each signature; never stored, never echoed."""

    # Not trimmed: a password is compared as typed.
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=1024,
                                     style={"input_type": "password"})
    code = serializers.CharField(write_only=True, required=False, allow_blank=True, default="", max_length=64,
                                 help_text="The current code from the authenticator app (or a recovery code), "
                                           "for users with two-factor sign-in.")


# ---------------------------------------------------------------------------- plans of care


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
        # A plan runs at most 52 weeks from an episode about to begin; and the clock's date
        # arithmetic must stay inside the calendar (the slot API's earliest year, 1901).
        latest = clinic_today() + timedelta(days=365)
        if not date(1901, 1, 1) <= day <= latest:
            raise serializers.ValidationError(f"Enter a date from 1 Jan 1901 to {latest:%d %b %Y} (a year from today).")
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


# ---------------------------------------------------------------------------- visit notes


class TreatmentMinutesSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=[(p.code, p.label) for p in codes.PROCEDURES.values()],
                                   help_text="A CPT procedure code.")
    minutes = serializers.IntegerField(min_value=1, max_value=codes.MAX_MINUTES_PER_CODE)


class GoalReviewSerializer(serializers.Serializer):
    goal = serializers.CharField()
    measure = serializers.CharField(allow_null=True)
    target = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    current = serializers.FloatField(allow_null=True)
    met = serializers.BooleanField(allow_null=True)


class AddendumSerializer(serializers.ModelSerializer):
    class Meta:
        model = Addendum
        fields = ["id", "author", "signed_at", "reason", "text", "content_hash"]
        read_only_fields = fields


class AddendumInputSerializer(SignatureSerializer):
    reason = serializers.CharField(max_length=200, help_text="Why the note needs it (e.g. late entry, correction).")
    text = serializers.CharField(max_length=8000)


class VisitNoteSerializer(serializers.ModelSerializer):
    """A note; its addenda, each signed, follow it in the order they were written."""

    treatment_minutes = TreatmentMinutesSerializer(many=True, required=False)
    goal_review = GoalReviewSerializer(many=True, read_only=True,
                                       help_text="Progress reports, re-evaluations and discharge summaries: each "
                                                 "goal's baseline, current value and whether it is met.")
    late = serializers.BooleanField(source="is_late", read_only=True,
                                    help_text="A draft past the clinic's signing limit, or an assistant's note "
                                              "past its co-signing limit.")
    addenda = AddendumSerializer(many=True, read_only=True)

    class Meta:
        model = VisitNote
        fields = ["id", "patient", "appointment", "plan_of_care", "kind", "status", "late", "author", "subjective",
                  "objective", "assessment", "plan", "goal_review", "treatment_minutes", "signed_by", "signed_at",
                  "cosigned_by", "cosigned_at", "content_hash", "created_at", "updated_at", "addenda"]
        read_only_fields = ["patient", "appointment", "plan_of_care", "status", "author", "signed_by", "signed_at",
                            "cosigned_by", "cosigned_at", "content_hash", "created_at", "updated_at"]

    def update(self, note, validated_data):
        if "treatment_minutes" in validated_data:
            validated_data["treatment_minutes"] = [dict(row) for row in validated_data["treatment_minutes"]]
        return call_service(services.save_note, note=note, edited_by=self.context["request"].user, **validated_data)


class StartNoteSerializer(serializers.Serializer):
    appointment = serializers.PrimaryKeyRelatedField(queryset=Appointment.objects.select_related("patient"),
                                                     help_text="The visit the note is of: completed or checked in.")
    kind = serializers.ChoiceField(choices=NoteKind.choices, default=NoteKind.DAILY,
                                   help_text="Assistants write daily notes only.")

    def create(self, validated_data):
        return call_service(services.start_note, author=self.context["request"].user, **validated_data)


class NotePermissions(RolePermissions):
    """The role's model permissions; a draft is discarded with the change permission, since nobody holds
    delete: a signed note is kept for ever (the service and a database trigger refuse to delete it)."""

    perms_map = {**RolePermissions.perms_map, "DELETE": ["%(app_label)s.change_%(model_name)s"]}


class NotSigned(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A draft has no PDF: sign it first."
    default_code = "not_signed"


class JsonUnlessPdf(BaseContentNegotiation):
    """The PDF action answers a PDF whatever the client accepts, and its refusals in JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema_view(
    create=extend_schema(request=StartNoteSerializer, responses={201: VisitNoteSerializer},
                         description="Start the note of a visit that happened (one per appointment), pre-filled "
                                     "from the home-program logs, the day's measures, pending proposals and the "
                                     "program. Therapists write every kind; assistants daily notes."),
    partial_update=extend_schema(description="Change a draft (its author only): the four sections, the kind, "
                                             "the treatment minutes (the list given replaces the note's)."),
    destroy=extend_schema(description="Discard a draft (its author only). A signed note is never deleted: 400.",
                          responses={204: None, 400: OpenApiResponse(field_errors_schema(),
                                                                     description=FIELD_ERRORS_DESCRIPTION)}),
)
class VisitNoteViewSet(AccessLoggedRetrieveMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    """Visit notes, newest first: drafts, notes awaiting co-signature and signed notes with their addenda.
    `sign/`, `cosign/` and `addenda/` ask for the password again (and the code with two-factor sign-in)."""

    serializer_class = VisitNoteSerializer
    permission_classes = [NotePermissions]
    filterset_fields = ["patient", "status", "kind", "author", "plan_of_care", "appointment"]
    ordering_fields = ["created_at", "signed_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        notes = selectors.notes().order_by("-created_at", "-id")
        if getattr(self, "swagger_fake_view", False):  # the schema: no policy to read the limits from
            return notes
        return selectors.with_lateness(notes)

    def get_serializer_class(self):
        return StartNoteSerializer if self.action == "create" else VisitNoteSerializer

    def get_permissions(self):
        if self.action == "addenda" and self.request.method == "POST":
            return [Holds("visits.view_visitnote", "visits.add_addendum")]
        return super().get_permissions()

    def _answer(self, note: VisitNote, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=note.pk)
        return Response(VisitNoteSerializer(fresh, context=self.get_serializer_context()).data, status=code)

    def create(self, request, *args, **kwargs):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        return self._answer(given.save(), status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = self.get_queryset().get(pk=serializer.save().pk)

    def perform_destroy(self, note):
        call_service(services.discard_draft, note=note, by=self.request.user)

    def _identity(self, request) -> dict:
        given = SignatureSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return {**given.validated_data, "request": request._request}

    @extend_schema(request=SignatureSerializer, responses=VisitNoteSerializer)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        """Sign and lock a draft (its author): refused for an empty section, a visit not completed or in
        the future, and a wrong password or code. An assistant's note then awaits co-signature."""
        note = call_service(services.sign_note, note=self.get_object(), signer=request.user, **self._identity(request))
        return self._answer(note)

    @extend_schema(request=SignatureSerializer, responses=VisitNoteSerializer)
    @action(detail=True, methods=["post"])
    def cosign(self, request, pk=None):
        """Co-sign an assistant's signed note (a therapist other than its author)."""
        note = call_service(services.cosign_note, note=self.get_object(), therapist=request.user,
                            **self._identity(request))
        return self._answer(note)

    @extend_schema(methods=["GET"], responses=AddendumSerializer(many=True))
    @extend_schema(methods=["POST"], request=AddendumInputSerializer, responses={201: AddendumSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def addenda(self, request, pk=None):
        """GET: the note's addenda, oldest first. POST: add a signed addendum to a signed note (a reason,
        the text, and the password and code again)."""
        note = self.get_object()
        if request.method == "GET":
            record_access(user=request.user, instance=note, via="api")
            return Response(AddendumSerializer(note.addenda.all(), many=True).data)
        given = AddendumInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        addendum = call_service(services.add_addendum, note=note, author=request.user,
                                request=request._request, **given.validated_data)
        return Response(AddendumSerializer(addendum).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={
        (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed note as a PDF."),
        409: OpenApiResponse(ERROR_DETAIL, description="The note is a draft: it has no PDF until it is signed."),
    })
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[],
            content_negotiation_class=JsonUnlessPdf)
    def pdf(self, request, pk=None):
        """The signed note as a PDF, with its signatures, addenda and content hash."""
        note = self.get_object()
        if not note.is_signed:
            raise NotSigned
        answer = HttpResponse(pdf.render_note_pdf(note), content_type="application/pdf")
        answer["Content-Disposition"] = f'inline; filename="{pdf.note_pdf_filename(note)}"'
        record_access(user=request.user, instance=note, via="api")
        return answer
