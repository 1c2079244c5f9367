"""The superbill: a PDF of billed visits the patient can send to their insurer themselves.

One visit (its active charge) or a patient's visits between two dates. It carries what a
claim needs: the clinic's name, address, NPI and tax id; the patient; the payer and member
id; per visit the date of service, the treating therapist and their NPI, the diagnoses
(ICD-10-CM, numbered as the lines' pointers), the lines (code, modifiers, units, minutes,
pointers, unit price, amount) and the totals. Rendered like the note PDF (WeasyPrint, no
resource fetched, dates in the clinic's zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.template.loader import render_to_string
from django.utils import timezone

from apps.accounts.roles import Role
from apps.billing.models import Charge, ChargeStatus, Coverage
from apps.ops.policy import clinic_policy
from apps.patients.models import Patient
from apps.visits.models import PlanDiagnosis
from hipclinic.zones import clinic_zone


@dataclass
class Provider:
    name: str
    npi: str


@dataclass
class Visit:
    charge: Charge
    provider: Provider
    diagnoses: list[dict]  # {"pointer": 1, "code": "M16.11", "description": "..."}
    member_id: str


@dataclass
class Totals:
    currency: str
    total: Decimal = Decimal("0.00")
    patient_share: Decimal = Decimal("0.00")
    units: int = 0
    visits: int = 0


def superbill_filename(patient: Patient, start: date, end: date) -> str:
    if start == end:
        return f"superbill-{patient.record_number}-{start:%Y-%m-%d}.pdf"
    return f"superbill-{patient.record_number}-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.pdf"


def superbill_pdf(*, patient: Patient, charges: Iterable[Charge]) -> bytes:
    """The superbill of these charges of one patient: void charges are left out; none left is refused.

    For one visit pass its active charge; for a period, ``selectors.active_charges_between``.
    """
    from weasyprint import HTML  # imported when used: it loads Pango

    charges = [charge for charge in charges if charge.status == ChargeStatus.ACTIVE]
    if any(charge.patient_id != patient.pk for charge in charges):
        raise ValidationError({"charges": "A superbill lists one patient's visits only."})
    if not charges:
        raise ValidationError({"charges": "There is no billed visit to put on a superbill."})
    charges.sort(key=lambda charge: (charge.date_of_service, charge.pk))
    visits = _visits(charges)
    totals: dict[str, Totals] = {}
    for visit in visits:
        row = totals.setdefault(visit.charge.currency, Totals(currency=visit.charge.currency))
        row.total += visit.charge.total
        row.patient_share += visit.charge.patient_share
        row.units += sum(line.units for line in visit.charge.lines.all())
        row.visits += 1
    payers = {}
    for visit in visits:  # the payers of the period, each once, with the member id the patient has there
        payers.setdefault((visit.charge.payer_id, visit.member_id), visit.charge.payer)
    zone = clinic_zone()
    with timezone.override(zone):
        html = render_to_string("billing/superbill.html", {
            "clinic": clinic_policy(), "patient": patient, "visits": visits, "totals": list(totals.values()),
            "payers": [{"payer": payer, "member_id": member_id} for (_, member_id), payer in payers.items()],
            "start": charges[0].date_of_service, "end": charges[-1].date_of_service,
            "zone": zone.key, "printed_at": timezone.now(),
        })
    return HTML(string=html, url_fetcher=_fetch_nothing).write_pdf()


def _visits(charges: list[Charge]) -> list[Visit]:
    plan_ids = {charge.note.plan_of_care_id for charge in charges}
    codes = {code for charge in charges for code in charge.diagnoses}
    # The descriptions as the plans recorded them, from history, so a diagnosis removed from
    # the plan after the visit still has its words (one query for all visits).
    descriptions: dict[tuple[int, str], str] = {}
    for plan_id, code, description in (PlanDiagnosis.history.filter(plan_id__in=plan_ids, code__in=codes)
                                       .order_by("history_date", "history_id")
                                       .values_list("plan_id", "code", "description")):
        if description:
            descriptions[(plan_id, code)] = description
    # The member id only where the charge's payer is still the episode's (a charge keeps the payer it was made for).
    member_ids = {(plan_id, payer_id): member_id for plan_id, payer_id, member_id
                  in Coverage.objects.filter(plan_id__in=plan_ids).values_list("plan_id", "payer_id", "member_id")}
    visits = []
    for charge in charges:
        plan_id = charge.note.plan_of_care_id
        member_id = member_ids.get((plan_id, charge.payer_id), "")
        visits.append(Visit(
            charge=charge, provider=treating_provider(charge), member_id=member_id,
            diagnoses=[{"pointer": n, "code": code, "description": descriptions.get((plan_id, code), "")}
                       for n, code in enumerate(charge.diagnoses, start=1)]))
    return visits


def treating_provider(charge: Charge) -> Provider:
    """Who treated, with their NPI: the note's author if they have a rota entry and are not an assistant,
    else the therapist who co-signed it (an assistant's visit is billed under the supervising therapist),
    else the therapist the visit was booked with."""
    note = charge.note
    for user in (charge.therapist, note.cosigned_by):
        if user is None or user.role == Role.ASSISTANT:
            continue
        try:
            profile = user.therapist
        except ObjectDoesNotExist:
            continue
        return Provider(name=profile.display_name, npi=profile.npi)
    booked = note.appointment.therapist
    return Provider(name=booked.display_name, npi=booked.npi)


def _fetch_nothing(url: str, *args, **kwargs):
    # The template is self-contained: nothing on a superbill may make the renderer open a file or a URL.
    raise ValueError(f"the superbill PDF loads no resources ({url[:40]!r} refused)")
