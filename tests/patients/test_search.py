"""The patient search stays quick with many patients: on PostgreSQL it is answered from
indexes, and its matches are listed in name order whatever the case.

Found by the load test (tests/test_load.py; bench/load.py at 100,000 patients): a search
page read every patient and every referral, 250-400 ms of database time each.
"""

import re

import pytest
from django.db import connection

from apps.patients.selectors import patient_list
from tests.factories import PatientFactory, ReferralFactory

pytestmark = pytest.mark.django_db


def plan(queryset) -> str:
    """PostgreSQL's plan for the query with sequential scans priced out: what it *can* read from indexes."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # rolled back with the test's transaction
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.parametrize("text", ["Pat", "Ada Patel", "HC000042"])
def test_a_search_reads_the_search_indexes_and_never_every_patient_or_referral(text):
    for patient in PatientFactory.create_batch(20):
        ReferralFactory(patient=patient)
    ReferralFactory(red_flags=["constant_night_pain"])

    searched = plan(patient_list(text=text)[:25])

    assert "Seq Scan" not in searched, searched
    # Only the search indexes are read: which name index answers a two-word search ("Ada Patel":
    # first name ADA and last name PATEL, or the other way) is the planner's choice by its
    # statistics, and either reads only the matching entries. No other index of the patients
    # (the list's name-order index, say) is walked whole instead.
    read = set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)",
                          searched))
    names = {"patient_first_name_search", "patient_last_name_search"}
    assert read <= {"patient_record_number_search", *names, "referral_open_red_flag"}, searched
    assert "patient_record_number_search" in read and read & names, searched
    assert "referral_open_red_flag" in read, searched  # the red-flag alert of each listed patient


def test_search_results_are_in_name_order_whatever_the_case(client, frontdesk):
    for first, last in [("Ana", "de Souza"), ("Bo", "Delaney"), ("Cy", "Dalton"), ("Di", "Ellis")]:
        PatientFactory(first_name=first, last_name=last)
    client.force_login(frontdesk)

    page = client.get("/desk/patients/", {"q": "d"}).content.decode()

    listed = re.findall(r'<a href="/desk/patients/\d+/">([^<]+)</a>', page)
    assert listed == ["Dalton, Cy", "de Souza, Ana", "Delaney, Bo", "Ellis, Di"]
