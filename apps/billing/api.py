"""Billing through the API: charges (read), invoices and payments (the front desk), payers with their
fee schedules and the code table (managers), and the CSV exports. Every write calls ``apps.billing.services``.

Money is a decimal string with its currency code beside it (``"80.00"``, ``"USD"``), never a float.
Who sees what: the front desk sees amounts, invoices and payments, never note content (a charge shows
its note's id, never its text); managers see everything; therapists see their own charges only.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from apps.accounts.roles import Role
from apps.billing import exports, services
from apps.billing.models import (
    MONEY,
    BillingCode,
    Charge,
    ChargeLine,
    FeeScheduleEntry,
    Invoice,
    InvoiceLine,
    Payer,
    Payment,
    PaymentMethod,
)
from apps.patients.models import Patient
from hipclinic.api import RolePermissions, call_service
from hipclinic.openapi import FIELD_ERRORS_DESCRIPTION, field_errors_schema


def money(**kwargs) -> serializers.DecimalField:
    """A sum of money as a decimal string ("80.00"); its currency is the record's ``currency``."""
    return serializers.DecimalField(**MONEY, coerce_to_string=True, **kwargs)


def sees_every_charge(user) -> bool:
    """The front desk and managers see every charge; a therapist sees their own."""
    return user.has_role(Role.FRONT_DESK, Role.CLINIC_MANAGER)


class Holds(BasePermission):
    """Signed in and holding every one of ``perms`` (for actions whose model is not the viewset's)."""

    def __init__(self, *perms: str, every_charge: bool = False):
        self.perms, self.every_charge = perms, every_charge

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(self.perms)
                    and (not self.every_charge or sees_every_charge(user)))


class ChargePermissions(RolePermissions):
    """The role's permissions; a therapist opens only their own charges (another's is a 403, not a 404)."""

    def has_object_permission(self, request, view, charge):
        return sees_every_charge(request.user) or charge.therapist_id == request.user.pk


class CsvOrJson(BaseContentNegotiation):
    """The exports answer CSV whatever the client accepts, and their refusals in JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


CSV_RESPONSES = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV, streamed; the columns are "
                                                                     "fixed (README, Billing)."),
    400: OpenApiResponse(field_errors_schema(), description=FIELD_ERRORS_DESCRIPTION),
}
DATE_RANGE = [
    OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="The first day (YYYY-MM-DD)."),
    OpenApiParameter("end", OpenApiTypes.DATE, required=True, description="The last day, included."),
]


# ---------------------------------------------------------------------------- codes


class BillingCodeSerializer(serializers.ModelSerializer):
    code = serializers.RegexField(r"^[A-Z0-9]{5}$", max_length=8,
                                  help_text="A CPT or HCPCS code: five capital letters or digits (e.g. 97110).")

    class Meta:
        model = BillingCode
        fields = ["id", "code", "description", "timed", "is_active"]

    def validate_code(self, code):
        if self.instance is not None and code != self.instance.code:
            raise serializers.ValidationError("A code does not change: add the new code and deactivate this one.")
        return code

    def create(self, validated_data):
        return call_service(services.save_billing_code, changed_by=self.context["request"].user, **validated_data)

    def update(self, code, validated_data):
        validated_data.pop("code", None)
        return call_service(services.save_billing_code, billing_code=code, changed_by=self.context["request"].user,
                            **validated_data)


@extend_schema_view(
    create=extend_schema(description="Add a code to the clinic's table (managers)."),
    partial_update=extend_schema(description="Change a code's description, whether it is timed, or deactivate "
                                             "it (managers). The code itself does not change."),
)
class BillingCodeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                         mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The CPT/HCPCS codes the clinic bills, each timed (15-minute units) or untimed (one unit)."""

    serializer_class = BillingCodeSerializer
    queryset = BillingCode.objects.order_by("code")
    filterset_fields = ["is_active", "timed"]
    http_method_names = ["get", "post", "patch", "head", "options"]


# ---------------------------------------------------------------------------- payers and fees


class PayerSerializer(serializers.ModelSerializer):
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217, e.g. USD: every price and charge of "
                                                               "this payer is in it.")

    class Meta:
        model = Payer
        fields = ["id", "name", "kind", "units_rule", "gp_modifier", "currency", "is_active"]
        validators = []  # the service refuses a second payer of the same name, by its field

    def create(self, validated_data):
        return call_service(services.save_payer, changed_by=self.context["request"].user, **validated_data)

    def update(self, payer, validated_data):
        return call_service(services.save_payer, payer=payer, changed_by=self.context["request"].user,
                            **validated_data)


class FeeSerializer(serializers.ModelSerializer):
    code = serializers.SlugRelatedField(slug_field="code", queryset=BillingCode.objects.all(),
                                        help_text="A code of the clinic's table.")
    price = money(min_value=Decimal("0"), help_text="Per unit.")
    currency = serializers.RegexField(r"^[A-Z]{3}$", source="payer.currency",
                                      help_text="The payer's currency (ISO 4217): a price is never without one.")

    class Meta:
        model = FeeScheduleEntry
        fields = ["id", "code", "effective_from", "price", "currency"]
        validators = []


@extend_schema_view(
    create=extend_schema(description="Add a payer (managers). Its currency is required."),
    partial_update=extend_schema(description="Change a payer (managers): its units rule and GP modifier apply to "
                                             "charges made from then on."),
)
class PayerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Self-pay and insurers, with their units rule and GP modifier; `fees/` is a payer's fee schedule."""

    serializer_class = PayerSerializer
    queryset = Payer.objects.order_by("name")
    filterset_fields = ["kind", "is_active"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_permissions(self):
        if self.action == "fees":
            if self.request.method == "POST":
                return [Holds("billing.view_payer", "billing.add_feescheduleentry")]
            return [Holds("billing.view_payer", "billing.view_feescheduleentry")]
        return super().get_permissions()

    def get_serializer_class(self):
        return FeeSerializer if self.action == "fees" else PayerSerializer

    @extend_schema(methods=["GET"], responses=FeeSerializer(many=True))
    @extend_schema(methods=["POST"], request=FeeSerializer, responses={201: FeeSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def fees(self, request, pk=None):
        """GET: the payer's prices, by code, latest first. POST: a price for a code from a date on, in the
        payer's currency (a later price never rewrites a charge already made; prices are never edited)."""
        payer = self.get_object()
        if request.method == "GET":
            entries = payer.fees.select_related("code", "payer").order_by("code__code", "-effective_from")
            return Response(FeeSerializer(entries, many=True).data)
        given = FeeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        entry = call_service(services.add_fee, payer=payer, code=data["code"], price=data["price"],
                             effective_from=data["effective_from"], currency=data["payer"]["currency"],
                             added_by=request.user)
        return Response(FeeSerializer(entry).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------- charges


class ChargeLineSerializer(serializers.ModelSerializer):
    unit_price = money(read_only=True)
    amount = money(read_only=True)

    class Meta:
        model = ChargeLine
        fields = ["code", "description", "modifiers", "minutes", "units", "diagnosis_pointers", "unit_price",
                  "amount"]
        read_only_fields = fields


class ChargeSerializer(serializers.ModelSerializer):
    """A signed note's charge: its lines, total and the patient's share, in ``currency``. The note is named
    by its id only (its content is clinical)."""

    lines = ChargeLineSerializer(many=True, read_only=True)
    total = money(read_only=True)
    patient_share = money(read_only=True)
    invoice = serializers.SerializerMethodField(help_text="The invoice's number, once the charge is invoiced.")

    class Meta:
        model = Charge
        fields = ["id", "note", "revision", "patient", "therapist", "payer", "date_of_service", "units_rule",
                  "diagnoses", "currency", "total", "patient_share", "status", "void_reason", "voided_at",
                  "invoice", "lines", "created_at"]
        read_only_fields = fields

    def get_invoice(self, charge) -> str | None:
        line = getattr(charge, "invoice_line", None)
        return line.invoice.number if line is not None else None


class ChargeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Charges made when notes are signed, newest first (a corrected note's voided charges too). Read-only:
    a correction to minutes or codes is an addendum to the note. Therapists see their own charges."""

    serializer_class = ChargeSerializer
    permission_classes = [ChargePermissions]
    filterset_fields = {"patient": ["exact"], "status": ["exact"], "payer": ["exact"], "therapist": ["exact"],
                        "date_of_service": ["gte", "lte"]}
    ordering_fields = ["date_of_service"]

    def get_queryset(self):
        # Related records by id only (the note's text is never read), the invoice for its number.
        charges = (Charge.objects.select_related("invoice_line__invoice").prefetch_related("lines")
                   .order_by("-date_of_service", "-id"))
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or self.action != "list" or sees_every_charge(user):
            return charges
        return charges.filter(therapist=user)

    def get_permissions(self):
        if self.action == "export":
            return [Holds("billing.view_charge", every_charge=True)]
        return super().get_permissions()

    @extend_schema(parameters=DATE_RANGE, responses=CSV_RESPONSES)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[],
            content_negotiation_class=CsvOrJson)
    def export(self, request):
        """Every charge line with a date of service from `start` to `end` (both included) as CSV, streamed:
        the front desk and managers. The columns are fixed (README, Billing)."""
        start, end = exports.date_range(request.query_params)
        return exports.charge_lines_response(start=start, end=end)


# ---------------------------------------------------------------------------- invoices


class InvoiceLineSerializer(serializers.ModelSerializer):
    amount = money(read_only=True)

    class Meta:
        model = InvoiceLine
        fields = ["charge", "description", "amount"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    total = money(read_only=True)
    paid = money(read_only=True, help_text="Payments recorded against this invoice.")
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "patient", "issued_on", "period_start", "period_end", "currency", "total", "paid",
                  "status", "lines", "created_by", "created_at"]
        read_only_fields = fields


class InvoiceInputSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    charges = serializers.PrimaryKeyRelatedField(queryset=Charge.objects.all(), many=True,
                                                 help_text="The patient's charges (visits) to invoice, each once.")
    issued_on = serializers.DateField(required=False, help_text="Today (the clinic's) when left out.")


@extend_schema_view(
    create=extend_schema(request=InvoiceInputSerializer, responses={201: InvoiceSerializer},
                         description="Invoice the patient's share of some of their charges (the front desk and "
                                     "managers). Numbered without gaps per year; a visit already invoiced, a "
                                     "voided charge or another patient's is refused by `charges`."),
)
class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Invoices, newest first, with their lines and what was paid against each."""

    serializer_class = InvoiceSerializer
    filterset_fields = {"patient": ["exact"], "status": ["exact"], "issued_on": ["gte", "lte"]}
    ordering_fields = ["issued_on"]

    def get_queryset(self):
        return (Invoice.objects.prefetch_related("lines")
                .annotate(paid=Coalesce(Sum("payments__amount"), Value(Decimal("0.00")),
                                        output_field=DecimalField(**MONEY)))
                .order_by("-issued_on", "-id"))

    def create(self, request, *args, **kwargs):
        given = InvoiceInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        charges = list(Charge.objects.filter(pk__in=[c.pk for c in data["charges"]]).prefetch_related("lines"))
        invoice = call_service(services.create_invoice, patient=data["patient"], charges=charges,
                               created_by=request.user, issued_on=data.get("issued_on"))
        fresh = self.get_queryset().get(pk=invoice.pk)
        return Response(InvoiceSerializer(fresh).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------- payments


class PaymentSerializer(serializers.ModelSerializer):
    amount = money(read_only=True)

    class Meta:
        model = Payment
        fields = ["id", "patient", "invoice", "amount", "currency", "method", "received_on", "is_credit",
                  "reference", "recorded_by", "recorded_at"]
        read_only_fields = fields


class PaymentInputSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    invoice = serializers.PrimaryKeyRelatedField(queryset=Invoice.objects.all(), required=False, allow_null=True)
    amount = money(min_value=Decimal("0.01"))
    currency = serializers.RegexField(r"^[A-Z]{3}$", required=False,
                                      help_text="The clinic's currency; anything else is refused.")
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    received_on = serializers.DateField(required=False, help_text="Today (the clinic's) when left out.")
    as_credit = serializers.BooleanField(default=False, help_text="Keep what is above the balance as the "
                                                                  "patient's credit (else it is refused).")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


@extend_schema_view(
    create=extend_schema(request=PaymentInputSerializer, responses={201: PaymentSerializer},
                         description="Record money received (the front desk and managers; no card processing). "
                                     "More than the patient's balance is refused by `amount` unless `as_credit`."),
)
class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """Payments, newest first."""

    serializer_class = PaymentSerializer
    queryset = Payment.objects.order_by("-received_on", "-id")
    filterset_fields = {"patient": ["exact"], "method": ["exact"], "is_credit": ["exact"],
                        "received_on": ["gte", "lte"]}
    ordering_fields = ["received_on"]

    def get_permissions(self):
        if self.action == "export":
            return [Holds("billing.view_payment")]
        return super().get_permissions()

    def create(self, request, *args, **kwargs):
        given = PaymentInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = dict(given.validated_data)
        currency = data.pop("currency", None)
        payment = call_service(services.record_payment, recorded_by=request.user, currency=currency, **data)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=DATE_RANGE, responses=CSV_RESPONSES)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[],
            content_negotiation_class=CsvOrJson)
    def export(self, request):
        """Every payment received from `start` to `end` (both included) as CSV, streamed: the front desk and
        managers. The columns are fixed (README, Billing)."""
        start, end = exports.date_range(request.query_params)
        return exports.payments_response(start=start, end=end)
