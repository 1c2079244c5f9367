"""Reads of patients, shaped once for desk pages, admin and API."""

from datetime import date

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Upper

from apps.patients.models import Patient, Referral, search_filter


def open_red_flag(patient_ref: str = "pk") -> Exists:
    """True when the patient (``patient_ref`` from the outer query) has a positive screen with no decision yet."""
    return Exists(Referral.objects.filter(patient=OuterRef(patient_ref), red_flag_decision="").exclude(red_flags=[]))


def latest_referral(patient: Patient) -> Referral | None:
    """The patient's current referral: the latest by referral date (then the last entered)."""
    return patient.referrals.order_by("-referral_date", "-id").first()


def latest_referral_cause(patient_ref: str = "patient") -> Subquery:
    """The cause of the latest referral of the patient ``patient_ref`` names in the outer query."""
    referrals = Referral.objects.filter(patient=OuterRef(patient_ref)).order_by("-referral_date", "-id")
    return Subquery(referrals.values("cause")[:1])


def with_red_flag_alert(queryset: QuerySet) -> QuerySet:
    """Annotate ``red_flag_alert`` on a patient queryset."""
    return queryset.annotate(red_flag_alert=open_red_flag())


def patient_list(*, text: str = "", include_archived: bool = False) -> QuerySet:
    """All patients in name order, or those matching ``text`` in name order ignoring case.

    Matches are sorted by ``UPPER(name)``, which no index provides, so PostgreSQL collects
    them from the search indexes (patients migration 0003) and sorts them. Sorted by the
    plain name, it would rather walk the whole name index looking for the first page of a
    common surname (at 100,000 patients, 200 ms instead of 15).
    """
    patients = Patient.objects.all() if include_archived else Patient.objects.active()
    if not text:
        return with_red_flag_alert(patients).order_by("last_name", "first_name", "id")
    patients = patients.filter(search_filter(text))
    return with_red_flag_alert(patients).order_by(Upper("last_name"), Upper("first_name"), "id")


def possible_duplicates(*, first_name: str, last_name: str, date_of_birth: date | None, email: str) -> QuerySet:
    """Existing patients with the same name and date of birth, or the same e-mail."""
    query = Q(pk__in=[])
    if first_name and last_name and date_of_birth:
        query |= Q(first_name__iexact=first_name.strip(), last_name__iexact=last_name.strip(),
                   date_of_birth=date_of_birth)
    if email:
        query |= Q(email__iexact=email.strip())
    return Patient.objects.filter(query).order_by("id")
