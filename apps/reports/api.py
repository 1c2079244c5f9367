"""The clinic's numbers through the API: ``GET /api/v1/reports/summary/?start=&end=&therapist=&cause=``.

Managers see the whole clinic (or one therapist's part); a therapist always gets their own
patients and appointments, whatever ``therapist`` says; the front desk and assistants get a 403.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.roles import Role
from apps.patients.vocabulary import REFERRAL_CAUSES
from apps.reports import figures
from hipclinic.api import call_service
from hipclinic.openapi import FIELD_ERRORS_DESCRIPTION, field_errors_schema


class CanSeeReports(BasePermission):
    """Clinic managers, and therapists for their own figures."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.CLINIC_MANAGER, Role.THERAPIST))


def only_their_own(user) -> bool:
    return not user.has_role(Role.CLINIC_MANAGER)


class SummaryQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text="The range's first day (clinic time), YYYY-MM-DD.")
    end = serializers.DateField(help_text="The range's last day, included; at most three years after the first.")
    therapist = serializers.IntegerField(required=False, help_text="A therapist's user id (managers only: "
                                                                    "a therapist always sees their own figures).")
    cause = serializers.ChoiceField(choices=list(REFERRAL_CAUSES.items()), required=False,
                                    help_text="A referral cause: patients referred for it.")


def money(name: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True,
                                    help_text=figures.DEFINITIONS[name])


def share(name: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=f"{figures.DEFINITIONS[name]} Null when nothing "
                                                             f"to divide by.")


def count(name: str, text: str | None = None) -> serializers.IntegerField:
    return serializers.IntegerField(help_text=text or figures.DEFINITIONS[name])


class OutcomeSerializer(serializers.Serializer):
    patients = serializers.IntegerField(help_text="Patients with at least one complete score of the measure.")
    with_follow_up = serializers.IntegerField(help_text="Of those, patients with two scores or more.")
    no_follow_up = serializers.IntegerField(help_text="Patients with one score only: shown, never dropped.")
    reached_mcid = serializers.IntegerField(help_text="Patients whose change reached the measure's MCID.")
    share_reaching_mcid = serializers.FloatField(allow_null=True, help_text="reached_mcid / with_follow_up.")
    median_change = serializers.FloatField(allow_null=True, help_text="Median of last - first score.")


class OutcomesSerializer(serializers.Serializer):
    by_measure = serializers.DictField(child=OutcomeSerializer(), help_text="Keyed by measure (nprs, lefs, odi, "
                                                                              "psfs).")
    by_cause = serializers.DictField(child=serializers.DictField(child=OutcomeSerializer()),
                                     help_text="Keyed by referral cause (\"none\": plans without a referral), "
                                               "then by measure.")


class SummarySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    therapist = serializers.IntegerField(allow_null=True, help_text="The therapist filter applied, if any.")
    cause = serializers.CharField(allow_null=True, help_text="The referral-cause filter applied, if any.")
    stored_through = serializers.DateField(
        allow_null=True, help_text="The last day of the range read from the figures the beat task stores; later "
                                   "days are counted from the records now. Null: every day counted now.")
    refreshed_at = serializers.DateTimeField(allow_null=True, help_text="When those stored figures were counted.")
    overdue_as_of = serializers.DateTimeField(help_text="When the overdue reports and re-certifications were "
                                                        "counted (the stored snapshot of today, or now).")
    new_referrals = count("new_referrals")
    first_evaluations = count("first_evaluations")
    conversion = share("conversion")
    visits = count("visits")
    scheduled = count("scheduled")
    cancelled = count("scheduled", "Cancelled appointments starting in the range.")
    no_shows = count("scheduled", "No-show appointments starting in the range.")
    cancellation_rate = share("cancellation_rate")
    no_show_rate = share("no_show_rate")
    cancellation_and_no_show_rate = share("cancellation_and_no_show_rate")
    late_cancellations = count("late_cancellations")
    late_cancellation_hours = count("late_cancellations", "The clinic's late-cancellation window, in hours.")
    rebooked_visits = count("rebook_rate", "Completed visits in the range with a later appointment already booked.")
    rebook_rate = share("rebook_rate")
    finished_episodes = count("visits_per_finished_episode", "Plans of care discharged in the range.")
    visits_per_finished_episode = share("visits_per_finished_episode")
    booked_minutes = count("utilisation", "Minutes of active appointments starting in the range.")
    working_minutes = count("utilisation", "Working minutes of the rota over the range, less time off.")
    utilisation = share("utilisation")
    sessions_logged = count("adherence", "Session logs dated in the range, of the programs counted.")
    sessions_prescribed = serializers.FloatField(help_text="Sessions prescribed in the range, of the programs "
                                                           "counted.")
    adherence = share("adherence")
    active_programs = count("quiet_programs_share", "Active programs whose planned weeks include the last day.")
    quiet_programs = count("quiet_programs_share", "Of those, programs with no session logged in the last 7 days.")
    quiet_programs_share = share("quiet_programs_share")
    outcomes = OutcomesSerializer(help_text=figures.DEFINITIONS["outcomes"])
    charges_total = money("charges_total")
    charges = count("charges_total", "Active charges with a date of service in the range.")
    units = count("units_per_visit", "Billing units on those charges.")
    units_per_visit = share("units_per_visit")
    payments_total = money("payments_total")
    outstanding_balance = money("outstanding_balance")
    overdue_progress_reports = count("overdue_progress_reports")
    overdue_recertifications = count("overdue_recertifications")
    unsigned_notes = count("unsigned_notes")


class SummaryView(APIView):
    """The clinic's numbers for a date range."""

    permission_classes = [CanSeeReports]

    @extend_schema(
        parameters=[SummaryQuerySerializer],
        responses={200: SummarySerializer,
                   400: OpenApiResponse(field_errors_schema(), description=FIELD_ERRORS_DESCRIPTION)},
        description="Every figure of the range, each described in the response schema. Money is a decimal "
                    "string in the clinic's currency. A therapist always gets their own figures. A reversed "
                    "range, one over three years, an unknown therapist or cause answers 400 with field errors.",
    )
    def get(self, request):
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        therapist = query.validated_data.get("therapist")
        if only_their_own(request.user):
            therapist = request.user.pk
        found = call_service(figures.summary, start=query.validated_data["start"], end=query.validated_data["end"],
                             therapist=therapist, cause=query.validated_data.get("cause"))
        return Response(SummarySerializer(found).data)
