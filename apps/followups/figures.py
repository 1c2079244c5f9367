"""Adherence on every program, in the API and the admin's program list (registered in FollowupsConfig.ready)."""

from __future__ import annotations

from django.contrib import admin
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.followups import adherence, selectors
from apps.prescriptions.extras import ProgramFigure
from apps.prescriptions.models import ProgramStatus


@extend_schema_field(serializers.ListField(child=serializers.DictField()))
class AdherenceField(serializers.Field):
    """Per program week: ``week``, ``start``, ``logged``, ``prescribed`` and ``percent``."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True,
                         help_text="Per program week: sessions logged / prescribed.", **kwargs)

    def to_representation(self, program):
        return selectors.weekly_adherence(program)


@admin.display(description="last 7 days")
def last_7_days(program) -> str:
    if program.status == ProgramStatus.DRAFT:
        return "-"
    logged = adherence.last_days(selectors.session_dates(program), today=program.patient.today())
    return f"{logged}/{program.sessions_per_week}"


@admin.display(description="adherence")
def adherence_so_far(program) -> str:
    """Sessions logged against sessions due so far."""
    percent = adherence.so_far_percent(selectors.program_weeks(program))
    return "-" if percent is None else f"{percent} %"


FIGURES = [
    ProgramFigure("adherence", api_field=AdherenceField, admin_column=adherence_so_far,
                  prefetch=selectors.ADHERENCE_PREFETCH),
    ProgramFigure("last_7_days", admin_column=last_7_days, prefetch=selectors.ADHERENCE_PREFETCH),
]
