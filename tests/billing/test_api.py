"""Billing through the API: money as decimal strings with a currency, who sees and does what, every
refusal with its field and nothing written, the query budgets of the lists, and the CSV exports."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.billing.models import BillingCode, Charge, ChargeLine, FeeScheduleEntry, Invoice, Payer, Payment
from apps.visits import services as visit_services
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

CHARGES, INVOICES, PAYMENTS = "/api/v1/charges/", "/api/v1/invoices/", "/api/v1/payments/"
PAYERS, CODES, NOTES = "/api/v1/payers/", "/api/v1/billing-codes/", "/api/v1/visit-notes/"


@pytest.fixture
def as_user(api_client):
    def sign_in(user):
        api_client.force_authenticate(user)
        return api_client

    return sign_in


@pytest.fixture
def charge(self_pay, signed_note):
    """The charge of a signed note: 97112 x2 and 97110 x1 at 40.00 each, 120.00 USD."""
    return Charge.objects.get(note=signed_note([("97112", 24), ("97110", 23)]))


def more_charges(charge, count: int, **fields) -> list[Charge]:
    """``count`` more (voided) revisions of ``charge``'s note, two lines each: rows for lists and exports."""
    made = []
    for revision in range(charge.revision + 1, charge.revision + 1 + count):
        extra = Charge.objects.create(note=charge.note, revision=revision, patient=charge.patient,
                                      therapist=fields.get("therapist", charge.therapist), payer=charge.payer,
                                      date_of_service=charge.date_of_service, units_rule=charge.units_rule,
                                      diagnoses=charge.diagnoses, currency="USD", total=Decimal("80.00"),
                                      patient_share=Decimal("80.00"), status="void")
        ChargeLine.objects.bulk_create([ChargeLine(charge=extra, code=code, description=code, units=1, minutes=15,
                                                   unit_price=Decimal("40.00"), amount=Decimal("40.00"))
                                        for code in ("97110", "97112")])
        made.append(extra)
    return made


def queries_of(api, url, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url, params).status_code == 200
    return len(captured)


# ---------------------------------------------------------------------------- money and roles


def test_a_charge_shows_money_as_decimal_strings_with_its_currency_and_no_note_content(as_user, charge,
                                                                                        frontdesk):
    body = as_user(frontdesk).get(f"{CHARGES}{charge.pk}/").json()

    assert (body["total"], body["patient_share"], body["currency"]) == ("120.00", "120.00", "USD")
    assert sorted((line["code"], line["units"], line["unit_price"], line["amount"]) for line in body["lines"]) == [
        ("97110", 1, "40.00", "40.00"), ("97112", 2, "40.00", "80.00")]
    assert body["note"] == charge.note_id  # the note by its id: none of its text
    assert not {"subjective", "objective", "assessment", "plan"} & set(str(body).split("'"))


def test_a_therapist_sees_their_own_charges_the_desk_and_managers_every_one_and_assistants_none(
        as_user, charge, therapist, frontdesk, manager, assistant):
    other = more_charges(charge, 1, therapist=UserFactory(role="therapist"))[0]

    assert {row["id"] for row in as_user(therapist).get(CHARGES).json()["results"]} == {charge.pk}
    assert as_user(therapist).get(f"{CHARGES}{other.pk}/").status_code == 403
    assert as_user(therapist).get(f"{CHARGES}{charge.pk}/").status_code == 200
    for user in (frontdesk, manager):
        assert {row["id"] for row in as_user(user).get(CHARGES).json()["results"]} == {charge.pk, other.pk}
    for url in (CHARGES, INVOICES, PAYMENTS, PAYERS, CODES):
        assert as_user(assistant).get(url).status_code == 403, url
    for url in (INVOICES, PAYMENTS):
        assert as_user(therapist).get(url).status_code == 403, url


def test_charges_are_filtered_by_patient_status_payer_and_date(as_user, charge, manager):
    more_charges(charge, 2)
    api, day = as_user(manager), charge.date_of_service

    assert api.get(CHARGES, {"status": "active"}).json()["count"] == 1
    assert api.get(CHARGES, {"patient": charge.patient_id, "payer": charge.payer_id}).json()["count"] == 3
    assert api.get(CHARGES, {"date_of_service__gte": day + timedelta(days=1)}).json()["count"] == 0
    assert api.get(CHARGES, {"date_of_service__lte": day.isoformat()}).json()["count"] == 3
    assert api.get(CHARGES, {"date_of_service__gte": "soon"}).status_code == 400


# ---------------------------------------------------------------------------- invoices and payments


def test_the_desk_invoices_a_visit_once_and_takes_payment_to_a_zero_balance(as_user, charge, frontdesk):
    api = as_user(frontdesk)
    made = api.post(INVOICES, {"patient": charge.patient_id, "charges": [charge.pk]})
    assert made.status_code == 201, made.json()
    invoice = made.json()
    assert (invoice["total"], invoice["paid"], invoice["currency"], invoice["status"]) == ("120.00", "0.00", "USD",
                                                                                           "open")

    again = api.post(INVOICES, {"patient": charge.patient_id, "charges": [charge.pk]})
    assert again.status_code == 400 and "already invoiced" in again.json()["charges"][0]
    assert Invoice.objects.count() == 1

    too_much = api.post(PAYMENTS, {"patient": charge.patient_id, "amount": "150.00", "method": "card"})
    assert too_much.status_code == 400 and "More than the balance" in too_much.json()["amount"][0]
    assert not Payment.objects.exists()

    paid = api.post(PAYMENTS, {"patient": charge.patient_id, "invoice": invoice["id"], "amount": "120.00",
                               "method": "cash", "currency": "USD"})
    assert paid.status_code == 201, paid.json()
    assert (paid.json()["amount"], paid.json()["currency"], paid.json()["is_credit"]) == ("120.00", "USD", False)
    assert api.get(f"{INVOICES}{invoice['id']}/").json() | {"lines": None} == invoice | {
        "status": "paid", "paid": "120.00", "lines": None}

    credit = api.post(PAYMENTS, {"patient": charge.patient_id, "amount": "5.00", "method": "cash",
                                 "as_credit": True})
    assert credit.status_code == 201 and credit.json()["is_credit"] is True


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "10.00", "method": "cash", "currency": "EUR"}, "currency"),
    ({"amount": "0.00", "method": "cash"}, "amount"),
    ({"amount": 10.5, "method": "cheque"}, "method"),
    ({"amount": "1.005", "method": "cash"}, "amount"),
    ({"method": "cash"}, "amount"),
])
def test_a_payment_is_refused_by_its_field_and_nothing_is_written(as_user, charge, frontdesk, body, field):
    answer = as_user(frontdesk).post(PAYMENTS, {"patient": charge.patient_id, "as_credit": True, **body})
    assert answer.status_code == 400 and field in answer.json(), answer.json()
    assert not Payment.objects.exists()


def test_an_invoice_for_another_patients_charge_is_refused(as_user, charge, frontdesk):
    answer = as_user(frontdesk).post(INVOICES, {"patient": PatientFactory().pk, "charges": [charge.pk]})
    assert answer.status_code == 400 and "another patient" in answer.json()["charges"][0]
    assert as_user(frontdesk).post(INVOICES, {"patient": charge.patient_id, "charges": []}).status_code == 400
    assert not Invoice.objects.exists()


# ---------------------------------------------------------------------------- payers, prices, codes


def test_managers_keep_payers_and_prices_and_a_price_needs_its_currency(as_user, self_pay, manager, frontdesk,
                                                                        therapist):
    api = as_user(manager)
    no_currency = api.post(PAYERS, {"name": "Acme Health", "kind": "insurer"})
    assert no_currency.status_code == 400 and "currency" in no_currency.json()
    made = api.post(PAYERS, {"name": "Acme Health", "kind": "insurer", "units_rule": "ama_per_code",
                             "gp_modifier": True, "currency": "USD"})
    assert made.status_code == 201, made.json()
    fees = f"{PAYERS}{made.json()['id']}/fees/"

    assert api.post(fees, {"code": "97110", "effective_from": "2026-01-01", "price": "55.00"}).json() == {
        "currency": ["This field is required."]}
    wrong = api.post(fees, {"code": "97110", "effective_from": "2026-01-01", "price": "55.00", "currency": "EUR"})
    assert wrong.status_code == 400 and "USD" in wrong.json()["currency"][0]
    unknown = api.post(fees, {"code": "99999", "effective_from": "2026-01-01", "price": "55.00", "currency": "USD"})
    assert unknown.status_code == 400 and "code" in unknown.json()
    assert FeeScheduleEntry.objects.filter(payer_id=made.json()["id"]).count() == 0

    price = api.post(fees, {"code": "97110", "effective_from": "2026-01-01", "price": "55", "currency": "USD"})
    assert price.status_code == 201 and price.json() | {"id": 0} == {
        "id": 0, "code": "97110", "effective_from": "2026-01-01", "price": "55.00", "currency": "USD"}
    twice = api.post(fees, {"code": "97110", "effective_from": "2026-01-01", "price": "56", "currency": "USD"})
    assert twice.status_code == 400 and "effective_from" in twice.json()

    assert as_user(frontdesk).get(fees).json()[0]["price"] == "55.00"
    assert as_user(frontdesk).post(PAYERS, {"name": "X", "kind": "insurer", "currency": "USD"}).status_code == 403
    assert as_user(frontdesk).post(fees, {}).status_code == 403
    assert as_user(therapist).get(PAYERS).status_code == 200
    assert as_user(therapist).get(fees).status_code == 403


def test_managers_add_codes_and_staff_read_them(as_user, manager, frontdesk, therapist):
    made = as_user(manager).post(CODES, {"code": "97750", "description": "Physical performance test",
                                         "timed": True})
    assert made.status_code == 201, made.json()
    assert as_user(manager).post(CODES, {"code": "97750", "description": "Again", "timed": True}).status_code == 400
    assert as_user(manager).post(CODES, {"code": "=1+1", "description": "x", "timed": True}).status_code == 400
    renamed = as_user(manager).patch(f"{CODES}{made.json()['id']}/", {"code": "97751"})
    assert renamed.status_code == 400 and "code" in renamed.json()
    assert as_user(manager).patch(f"{CODES}{made.json()['id']}/", {"is_active": False}).json()["is_active"] is False
    assert as_user(therapist).get(CODES).status_code == 200
    assert as_user(frontdesk).post(CODES, {"code": "97000", "description": "x", "timed": True}).status_code == 403
    assert BillingCode.objects.filter(code__in=["97751", "97000"]).count() == 0


# ---------------------------------------------------------------------------- minutes on the visit notes


@pytest.mark.parametrize(("minutes", "message"), [
    ([{"code": "97110", "minutes": -5}], "greater than or equal to 1"),
    ([{"code": "99999", "minutes": 20}], "not one of the procedure codes"),
    ([{"code": "97110", "minutes": 20}, {"code": "97112", "minutes": 15}], "the visit lasted 30 minutes"),
])
def test_note_minutes_below_zero_for_an_unknown_code_or_beyond_the_visit_are_refused(
        as_user, therapist, plan_of_care, visit, minutes, message):
    plan_of_care()
    note = visit_services.start_note(appointment=visit(minutes=30), author=therapist)
    answer = as_user(therapist).patch(f"{NOTES}{note.pk}/", {"treatment_minutes": minutes})
    assert answer.status_code == 400 and message in str(answer.json()["treatment_minutes"]), answer.json()
    note.refresh_from_db()
    assert note.treatment_minutes == []


def test_note_minutes_that_fill_the_visit_are_taken(as_user, therapist, plan_of_care, visit):
    plan_of_care()
    note = visit_services.start_note(appointment=visit(minutes=30), author=therapist)
    rows = [{"code": "97110", "minutes": 15}, {"code": "97112", "minutes": 15}]
    assert as_user(therapist).patch(f"{NOTES}{note.pk}/", {"treatment_minutes": rows}).status_code == 200


# ---------------------------------------------------------------------------- query budgets


def test_the_lists_run_the_same_queries_for_one_row_or_many(as_user, charge, frontdesk):
    api = as_user(frontdesk)
    invoice = api.post(INVOICES, {"patient": charge.patient_id, "charges": [charge.pk]}).json()
    api.post(PAYMENTS, {"patient": charge.patient_id, "invoice": invoice["id"], "amount": "10.00", "method": "cash"})
    for url in (CHARGES, INVOICES, PAYMENTS):  # the role and permissions, cached on the user from here on
        api.get(url)
    # Charges: COUNT, the page with each invoice's number,
    # its lines (prefetched). Invoices: COUNT, the page with what was paid (annotated), its lines.
    # Payments: COUNT, the page.
    small = {url: queries_of(api, url) for url in (CHARGES, INVOICES, PAYMENTS)}
    assert small == {CHARGES: 3, INVOICES: 3, PAYMENTS: 2}

    more_charges(charge, 6)
    patient = charge.patient
    for extra in Charge.objects.filter(status="void"):
        Payment.objects.create(patient=patient, amount=Decimal("1.00"), currency="USD", method="cash",
                               received_on=extra.date_of_service, recorded_by=frontdesk)
    assert {url: queries_of(api, url) for url in (CHARGES, INVOICES, PAYMENTS)} == small
    assert api.get(CHARGES).json()["count"] == 7 and api.get(PAYMENTS).json()["count"] == 7


# ---------------------------------------------------------------------------- exports


def rows_of(response) -> list[list[str]]:
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_charge_export_streams_every_line_of_the_range_in_fixed_columns(as_user, charge, manager):
    day = charge.date_of_service
    answer = as_user(manager).get(f"{CHARGES}export/", {"start": day.isoformat(), "end": day.isoformat()})
    rows = rows_of(answer)

    assert rows[0] == ["date_of_service", "charge_id", "revision", "status", "patient_record_number", "payer",
                       "therapist", "code", "modifiers", "units", "minutes", "diagnosis_pointers", "diagnoses",
                       "unit_price", "amount", "currency"]
    assert sorted(rows[1:]) == sorted([
        [day.isoformat(), str(charge.pk), "1", "active", charge.patient.record_number, "Self-pay",
         charge.therapist.get_full_name() or charge.therapist.username, code, "", units, minutes, "1", "M62.81",
         "40.00", amount, "USD"]
        for code, units, minutes, amount in [("97110", "1", "23", "40.00"), ("97112", "2", "24", "80.00")]])
    next_day = (day + timedelta(days=1)).isoformat()
    assert rows_of(as_user(manager).get(f"{CHARGES}export/", {"start": next_day, "end": next_day})) == rows[:1]


def test_the_exports_run_one_query_whatever_the_number_of_rows(as_user, charge, frontdesk):
    api, day = as_user(frontdesk), charge.date_of_service.isoformat()

    def export_queries(url):
        answer = api.get(url, {"start": day, "end": day})
        with CaptureQueriesContext(connection) as captured:
            rows = rows_of(answer)  # the rows are read as the response is sent
        return len(captured), len(rows)

    assert export_queries(f"{CHARGES}export/") == (1, 3)
    more_charges(charge, 30)
    assert export_queries(f"{CHARGES}export/") == (1, 63)
    assert export_queries(f"{PAYMENTS}export/") == (1, 1)


def test_export_cells_that_a_spreadsheet_would_run_are_defused(as_user, charge, frontdesk):
    Payer.objects.filter(pk=charge.payer_id).update(name="=HYPERLINK(\"http://x\")")
    Payment.objects.create(patient=charge.patient, amount=Decimal("5.00"), currency="USD", method="cash",
                           received_on=charge.date_of_service, reference="@SUM(A1)", recorded_by=frontdesk,
                           is_credit=True)
    day = charge.date_of_service.isoformat()

    charges = rows_of(as_user(frontdesk).get(f"{CHARGES}export/", {"start": day, "end": day}))
    payments = rows_of(as_user(frontdesk).get(f"{PAYMENTS}export/", {"start": day, "end": day}))

    assert {row[5] for row in charges[1:]} == {"'=HYPERLINK(\"http://x\")"}
    assert payments[0] == ["received_on", "payment_id", "patient_record_number", "method", "amount", "currency",
                           "invoice_number", "is_credit", "reference"]
    assert payments[1][4:] == ["5.00", "USD", "", "true", "'@SUM(A1)"]


@pytest.mark.parametrize("query", [{}, {"start": "2026-01-01"}, {"start": "2026-13-01", "end": "2026-12-31"},
                                   {"start": "2026-02-01", "end": "2026-01-31"}, {"start": "yesterday", "end": "x"}])
def test_an_export_with_bad_dates_is_refused_by_field(as_user, manager, query):
    answer = as_user(manager).get(f"{PAYMENTS}export/", query)
    assert answer.status_code == 400 and set(answer.json()) <= {"start", "end"} and answer.json()


def test_only_the_desk_and_managers_export(as_user, therapist, assistant):
    query = {"start": "2026-01-01", "end": "2026-01-31"}
    for user in (therapist, assistant):
        assert as_user(user).get(f"{CHARGES}export/", query).status_code == 403
    assert as_user(assistant).get(f"{PAYMENTS}export/", query).status_code == 403


def test_the_export_command_writes_the_same_csv_and_refuses_bad_dates_in_one_line(charge, tmp_path):
    day = charge.date_of_service.isoformat()
    out = io.StringIO()
    call_command("export_billing", "charges", "--start", day, "--end", day, stdout=out)
    assert len(list(csv.reader(io.StringIO(out.getvalue())))) == 3
    call_command("export_billing", "payments", "--start", day, "--end", day, "--output", str(tmp_path / "p.csv"))
    assert (tmp_path / "p.csv").read_text().startswith("received_on,payment_id,")
    with pytest.raises(CommandError) as refused:
        call_command("export_billing", "payments", "--start", "2026-02-30", "--end", day)
    assert "\n" not in str(refused.value) and "--start" in str(refused.value)
