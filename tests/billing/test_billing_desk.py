"""The desk's billing page: a patient's charges, invoices, payments and balance; invoicing and payments."""

from decimal import Decimal

import pytest

from apps.billing.models import Charge, Invoice, Payment
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def page_of(client, patient) -> str:
    return client.get(f"/billing/patients/{patient.pk}/").content.decode()


def test_the_page_shows_the_charges_with_codes_units_and_shares_but_no_note_content(
        client, frontdesk, self_pay, signed_note, patient):
    note = signed_note([("97112", 24), ("97110", 23)])
    client.force_login(frontdesk)

    page = page_of(client, patient)

    times = "\N{MULTIPLICATION SIGN}"
    assert f"97112 {times} 2" in page and f"97110 {times} 1" in page
    assert "120.00" in page and "Not invoiced" in page
    assert ">0.00 USD owed" in page  # nothing invoiced yet
    assert "M62.81" not in page and note.subjective[:20] not in page  # no diagnoses, no note content


def test_the_desk_invoices_the_chosen_visits_and_the_balance_follows(client, frontdesk, self_pay, signed_note,
                                                                      patient):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    client.force_login(frontdesk)

    response = client.post(f"/billing/patients/{patient.pk}/invoice/", {"charges": [charge.pk]}, follow=True)

    invoice = Invoice.objects.get()
    page = response.content.decode()
    assert invoice.total == Decimal("80.00") and f"Invoice {invoice.number} for 80.00 USD is made." in page
    assert "80.00 USD owed" in page and invoice.number in page


def test_an_invoice_with_no_visit_chosen_is_refused_next_to_the_list(client, frontdesk, self_pay, signed_note,
                                                                     patient):
    signed_note([("97110", 30)])
    client.force_login(frontdesk)

    response = client.post(f"/billing/patients/{patient.pk}/invoice/", {})

    assert response.status_code == 200 and "Choose at least one visit to invoice." in response.content.decode()
    assert not Invoice.objects.exists()


def test_a_payment_above_the_balance_is_refused_next_to_the_amount_unless_kept_as_credit(
        client, frontdesk, self_pay, signed_note, patient):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    client.force_login(frontdesk)
    client.post(f"/billing/patients/{patient.pk}/invoice/", {"charges": [charge.pk]})
    invoice = Invoice.objects.get()
    payment = {"amount": "100.00", "method": "card", "received_on": "2030-01-01", "invoice": invoice.pk}

    refused = client.post(f"/billing/patients/{patient.pk}/payment/", payment)
    kept = client.post(f"/billing/patients/{patient.pk}/payment/", {**payment, "as_credit": "on"}, follow=True)

    assert refused.status_code == 200
    assert 'id="error_1_id_amount"' in refused.content.decode() or "More than the balance" in (
        refused.content.decode())
    assert "20.00 USD in credit" in kept.content.decode()
    assert Payment.objects.get().is_credit and Invoice.objects.get().status == "paid"


def test_paying_the_invoice_brings_the_balance_to_zero(client, manager, self_pay, signed_note, patient):
    charge = Charge.objects.get(note=signed_note([("97110", 30)]))
    client.force_login(manager)
    client.post(f"/billing/patients/{patient.pk}/invoice/", {"charges": [charge.pk]})

    response = client.post(f"/billing/patients/{patient.pk}/payment/", {
        "amount": "80.00", "method": "cash", "received_on": "2030-01-01", "invoice": Invoice.objects.get().pk},
        follow=True)

    assert "0.00 USD owed" in response.content.decode() and Invoice.objects.get().status == "paid"


def test_a_therapist_does_not_open_a_patients_billing_page(client, therapist, patient):
    client.force_login(therapist)

    assert client.get(f"/billing/patients/{patient.pk}/").status_code == 403


def test_the_desks_patient_page_links_to_billing_for_the_desk_only(client, frontdesk, therapist, patient):
    link = f'href="/billing/patients/{patient.pk}/"'
    client.force_login(frontdesk)
    assert link in client.get(f"/desk/patients/{patient.pk}/").content.decode()
    client.force_login(therapist)
    assert link not in client.get(f"/desk/patients/{patient.pk}/").content.decode()


@pytest.mark.parametrize("visits", [1, 4])
def test_the_billing_page_reads_in_a_fixed_number_of_queries(client, frontdesk, therapist, self_pay, plan_of_care,
                                                             visit, patient, django_assert_num_queries, visits):
    from apps.visits import services as visit_services

    plan_of_care()
    for day in range(visits):
        note = visit_services.start_note(appointment=visit(days_ago=day + 1), author=therapist)
        visit_services.save_note(note=note, edited_by=therapist, treatment_minutes=[{"code": "97110", "minutes": 30}])
        visit_services.sign_note(note=note, signer=therapist, password=PASSWORD)
    assert Charge.objects.count() == visits
    client.force_login(frontdesk)
    client.get(f"/billing/patients/{patient.pk}/")  # warm the session and the policy cache

    # Session, user, groups (role), policy, patient; balance (invoices, payments);
    # charges + lines; the invoice form's exists(), its charges + lines; open invoices (payment form);
    # invoices; payments; the superbill form's first date of service; the session's save (3 with its
    # savepoint): the same at any number of visits.
    with django_assert_num_queries(19):
        response = client.get(f"/billing/patients/{patient.pk}/")
    assert response.status_code == 200



def test_the_superbill_opens_as_a_pdf_and_an_empty_period_is_refused_next_to_its_field(client, frontdesk, self_pay,
                                                                                     signed_note, patient):
    from hipclinic.zones import clinic_today

    signed_note([("97110", 30)])
    client.force_login(frontdesk)
    url = f"/billing/patients/{patient.pk}/superbill/"

    empty = client.post(url, {"start": "2001-01-01", "end": "2001-01-31", "pdf": ""})
    assert empty.status_code == 400 and "No billed visit in this period." in empty.content.decode()
    backwards = client.post(url, {"start": "2001-02-01", "end": "2001-01-01", "pdf": ""})
    assert "The period ends before it starts." in backwards.content.decode()

    pdf = client.post(url, {"start": "2020-01-01", "end": clinic_today().isoformat(), "pdf": ""})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
