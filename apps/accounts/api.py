from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.accounts import services, two_factor
from apps.accounts.models import User
from apps.accounts.roles import Role
from hipclinic.api import IsClinicStaff, call_service
from hipclinic.errors import messages_by_field


class UserSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True, required=False)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "role", "is_active"]

    def to_representation(self, user):
        data = super().to_representation(user)
        data["role"] = user.role.value if user.role else None
        return data

    def create(self, validated_data):
        role = validated_data.pop("role", None)
        # No password: they set their own through the reset link.
        return self._save(User(**validated_data), role)

    def update(self, user, validated_data):
        role = validated_data.pop("role") if "role" in validated_data else user.role
        for name, value in validated_data.items():
            setattr(user, name, value)
        return self._save(user, role)

    def _save(self, user, role):
        return call_service(services.save_staff, user=user, role=role, changed_by=self.context["request"].user)


class UserViewSet(viewsets.ModelViewSet):
    """Staff accounts. Clinic managers list, add and deactivate staff; nobody deletes one."""

    serializer_class = UserSerializer
    queryset = User.objects.filter(is_superuser=False).prefetch_related("groups").order_by("username")
    filterset_fields = ["is_active"]
    ordering_fields = ["username", "last_name"]


class MeView(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)


class TokenRequestSerializer(AuthTokenSerializer):
    """DRF's, with a username no longer than an account's can be (a longer one went on to
    django-axes' record of the failed sign-in, which PostgreSQL refused: a 500), and the
    one-time code of staff who sign in with two-factor."""

    username = serializers.CharField(label="Username", write_only=True,
                                     max_length=User._meta.get_field("username").max_length)
    otp = serializers.CharField(
        label="One-time code", write_only=True, required=False, allow_blank=True, max_length=32,
        help_text="Required for staff who sign in with two-factor (therapists, assistants, managers, and the "
                  "front desk when the clinic asks it): the 6-digit code the authenticator app shows now, or "
                  "an unused recovery code. A wrong code counts toward the sign-in lockout.")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        user = attrs["user"]
        if two_factor.has_two_factor(user):
            try:
                services.check_second_factor(user=user, code=attrs.get("otp", ""),
                                             request=self.context.get("request"), field="otp")
            except DjangoValidationError as error:
                raise serializers.ValidationError(messages_by_field(error)) from None
        elif two_factor.two_factor_required(user):
            raise serializers.ValidationError({"otp": ["Set up two-factor sign-in first: sign in on the website "
                                                       "once, which asks you to add an authenticator app."]})
        return attrs


class TokenView(ObtainAuthToken):
    """POST username and password (and ``otp``, the one-time code, for staff with two-factor sign-in),
    get ``{"token": ...}`` for ``Authorization: Token <token>``."""

    serializer_class = TokenRequestSerializer
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(responses=inline_serializer("Token", {"token": serializers.CharField()}))
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except serializers.ValidationError:
            # django-axes marks the request when the username is locked out from here.
            if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
                return Response({"detail": "Too many failed sign-ins from here; try again later."},
                                status=status.HTTP_429_TOO_MANY_REQUESTS)
            raise
