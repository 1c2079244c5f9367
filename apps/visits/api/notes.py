"""Visit notes through the API; every write is a call to ``apps.visits.services``.

Signing, co-signing and addenda take the signer's password (and one-time code) in the body:
write-only fields, handed to the service and never echoed back. Reading one note, its addenda
or its PDF writes the access log.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response

from apps.accounts.lockout import LOCKED_OUT_MESSAGE
from apps.ops.access import AccessLoggedRetrieveMixin, record_access
from apps.scheduling.models import Appointment
from apps.visits import codes, pdf, selectors, services
from apps.visits.api.permissions import Holds, NotePermissions
from apps.visits.models import Addendum, NoteKind, VisitNote
from hipclinic.api import as_api_error, call_service
from hipclinic.openapi import ERROR_DETAIL, FIELD_ERRORS_DESCRIPTION, field_errors_schema


class SignatureSerializer(serializers.Serializer):
    """The signer's identity, asked again at each signature; never stored, never echoed."""

    # Not trimmed: a password is compared as typed.
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=1024,
                                     style={"input_type": "password"})
    code = serializers.CharField(write_only=True, required=False, allow_blank=True, default="", max_length=64,
                                 help_text="The current code from the authenticator app (or a recovery code), "
                                           "for users with two-factor sign-in.")


class TreatmentMinutesSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=8, help_text="A procedure code of the clinic's table (the CPT codes of "
                                                         "clinical-reference.md section 9 and any the clinic added).")
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


class LockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = LOCKED_OUT_MESSAGE
    default_code = "locked_out"


LOCKED_OUT_RESPONSE = OpenApiResponse(ERROR_DETAIL, description="Too many wrong passwords or codes: the signer is "
                                                                "locked out of signing and signing in for a while.")


def signing(service, **arguments):
    """Call a service that confirms the signer's identity: its refusals are 400s by field, except a
    lockout (already, or by this wrong answer), which is a 429 in JSON as on the token endpoint."""
    try:
        return service(**arguments)
    except DjangoValidationError as error:
        errors = error.error_list if hasattr(error, "error_list") else [
            each for field in error.error_dict.values() for each in field]
        request = arguments["request"]
        if getattr(request, "axes_locked_out", False) or any(e.code == "locked_out" for e in errors):
            # Answered here in JSON; django-axes' middleware would answer its HTML page instead.
            request.axes_locked_out = False
            raise LockedOut from None
        raise as_api_error(error) from None


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

    @extend_schema(request=SignatureSerializer, responses={200: VisitNoteSerializer, 429: LOCKED_OUT_RESPONSE})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        """Sign and lock a draft (its author): refused for an empty section, a visit not completed or in
        the future, and a wrong password or code. An assistant's note then awaits co-signature."""
        note = signing(services.sign_note, note=self.get_object(), signer=request.user,
                       **self._identity(request))
        return self._answer(note)

    @extend_schema(request=SignatureSerializer, responses={200: VisitNoteSerializer, 429: LOCKED_OUT_RESPONSE})
    @action(detail=True, methods=["post"])
    def cosign(self, request, pk=None):
        """Co-sign an assistant's signed note (a therapist other than its author)."""
        note = signing(services.cosign_note, note=self.get_object(), therapist=request.user,
                       **self._identity(request))
        return self._answer(note)

    @extend_schema(methods=["GET"], responses=AddendumSerializer(many=True))
    @extend_schema(methods=["POST"], request=AddendumInputSerializer,
                   responses={201: AddendumSerializer, 429: LOCKED_OUT_RESPONSE})
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
        addendum = signing(services.add_addendum, note=note, author=request.user,
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
