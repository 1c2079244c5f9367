"""The FHIR R4 read API: reads, searches, paging, $everything and metadata, every answer valid FHIR."""

from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B import get_fhir_model_class

from apps.fhir import mapping
from apps.fhir.resources.base import CS_HIP_FLEXOR_TESTS
from apps.ops.models import AccessLog
from hipclinic.zones import clinic_zone
from tests.factories import ReferralFactory
from tests.fhir.conftest import fhir_client

FHIR_JSON = "application/fhir+json"


def valid(resource: dict) -> dict:
    """The resource, after fhir.resources' R4B model of its type accepted it (a Bundle checks its entries too)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def get(user, url: str, status: int = 200) -> dict:
    response = fhir_client(user).get(url)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR_JSON)
    return valid(response.json())


def search(user, query: str) -> dict:
    bundle = get(user, f"/fhir/R4/{query}")
    assert bundle["type"] == "searchset"
    return bundle


def resources(bundle: dict) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"]]


@pytest.mark.parametrize("resource_type", mapping.RESOURCE_TYPES)
def test_every_type_is_searched_and_read_and_every_resource_is_valid(clinic, therapist, resource_type):
    clinic()
    bundle = search(therapist, f"{resource_type}?_count=200")
    found = resources(bundle)
    assert found, f"the clinic has no {resource_type}"
    assert bundle["total"] == len(found)
    for resource in found:
        assert resource["resourceType"] == resource_type
        assert get(therapist, f"/fhir/R4/{resource_type}/{resource['id']}") == resource


def test_every_observation_kind_and_measure_is_mapped(clinic, therapist):
    clinic()
    observations = resources(search(therapist, "Observation?_count=200"))
    codes = {(coding["system"], coding["code"]) for observation in observations
             for coding in observation["code"]["coding"]}
    assert {("http://loinc.org", "72514-3"), ("http://loinc.org", "97909-6")} <= codes
    local = {code for system, code in codes if system == CS_HIP_FLEXOR_TESTS}
    assert local == {"mmt-hip-flexion", "knee-to-chest-hold", "dynamometry-hip-flexion", "limb-symmetry-index",
                     "thomas-test"}
    dynamometry = next(o for o in observations if o["id"].startswith("dyn-") and o["bodySite"]["text"] == "Left hip")
    assert dynamometry["valueQuantity"] == {"value": 162.5, "unit": "N", "system": "http://unitsofmeasure.org",
                                            "code": "N"}
    assert len(dynamometry["component"]) == 3
    responses = resources(search(therapist, "QuestionnaireResponse"))
    assert sorted(r["questionnaire"].rsplit("/", 1)[1] for r in responses) == ["lefs", "odi", "psfs"]
    psfs = next(r for r in responses if r["questionnaire"].endswith("psfs"))
    assert psfs["status"] == "in-progress"  # one activity not scored
    assert [item["text"] for item in psfs["item"]][:2] == ["Climbing stairs", "Getting out of a car"]


def test_questionnaires_carry_our_short_labels_only(therapist, db):
    lefs = get(therapist, "/fhir/R4/Questionnaire/lefs")
    assert lefs["item"][0] == {"linkId": "1", "text": "Usual work or chores", "type": "integer"}
    assert len(lefs["item"]) == 21  # 20 items and the score


def test_signed_notes_are_document_references_with_a_pdf_link_and_provenance(clinic, therapist):
    clinic()
    documents = resources(search(therapist, "DocumentReference"))
    assert len(documents) == 2
    url = documents[0]["content"][0]["attachment"]["url"]
    assert url.endswith(f"/api/v1/visit-notes/{documents[0]['id']}/pdf/")
    provenance = {p["id"].split("-")[0] for p in resources(search(therapist, "Provenance"))}
    assert provenance == {"sign", "cosign", "addendum"}


def test_patient_search_date_and_last_updated(clinic, therapist):
    first = clinic()
    other = clinic(ReferralFactory().patient)
    mine = resources(search(therapist, f"Appointment?patient={first.pk}"))
    assert mine and {a["participant"][0]["actor"]["reference"] for a in mine} == {f"Patient/{first.pk}"}
    both = search(therapist, f"Appointment?patient={first.pk},Patient/{other.pk}")
    assert both["total"] == 2 * len(mine)
    future = resources(search(therapist, "Appointment?date=ge2000-01-01&_count=200"))
    booked = [a for a in future if a["status"] == "booked"]
    def clinic_day(instant: str) -> str:  # a bare date searches a day of the clinic's zone
        return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(clinic_zone()).date().isoformat()

    start = clinic_day(booked[0]["start"])
    on_day = resources(search(therapist, f"Appointment?date={start}"))
    assert booked[0] in on_day and all(clinic_day(a["start"]) == start for a in on_day)
    assert search(therapist, "Appointment?date=lt2000-01-01")["total"] == 0
    assert search(therapist, "Observation?_lastUpdated=ge2000-01-01")["total"] == search(
        therapist, "Observation")["total"]
    assert search(therapist, "Condition?_lastUpdated=le2000-01-01")["total"] == 0
    assert search(therapist, f"Patient?_id={first.pk}")["total"] == 1


def test_paging_links_walk_every_result_once(clinic, therapist):
    clinic()
    total = search(therapist, "Observation")["total"]
    seen, url = [], "/fhir/R4/Observation?_count=3"
    while url:
        bundle = get(therapist, url)
        assert bundle["total"] == total
        seen.extend(r["id"] for r in resources(bundle))
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        url = links.get("next")
        if url:
            assert "previous" in links or len(seen) == 3
    assert len(seen) == len(set(seen)) == total


@pytest.mark.parametrize("query", [
    "Patient?name=Pat", "Observation?date=2026-13-01", "Observation?date=ne2026-01-01",
    "Observation?date=2026-01-01T10:00:00", "Appointment?_count=-1", "Appointment?_count=abc",
    "Appointment?patient=abc", "Appointment?patient=", "Organization?patient=1", "Practitioner?date=2026",
    "Appointment?_format=xml", "metadata?foo=1", "Patient/1?x=1", "Appointment?_offset=1.5",
    "Appointment?date=9999-12-31T23:59:59-05:00", "Appointment?date=0001-01-01T00:00:00+05:00",
    "Appointment?date=9999-12", "Appointment?_lastUpdated=0000", "Practitioner?_lastUpdated=ge2026-01-01",
    "Patient/1/$everything?_since=ge2026-01-01", "Patient/1/$everything?_count=2",
])
def test_unknown_parameters_and_bad_values_are_a_400_operation_outcome(therapist, db, query):
    outcome = get(therapist, f"/fhir/R4/{query}", status=400)
    assert outcome["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("url", ["/fhir/R4/Patient/999999", "/fhir/R4/Observation/mmt-999", "/fhir/R4/Patient/x y",
                                 "/fhir/R4/Observation/999", "/fhir/R4/Spaceship", "/fhir/R4/Spaceship/1",
                                 "/fhir/R4/Patient/1/$nothing", "/fhir/R4/Patient/999999/$everything"])
def test_unknown_ids_types_and_routes_are_a_404_operation_outcome(therapist, db, url):
    assert get(therapist, url, status=404)["resourceType"] == "OperationOutcome"


def test_everything_holds_every_resource_about_the_patient_and_no_one_else(clinic, therapist):
    first = clinic()
    clinic(ReferralFactory().patient)
    bundle = get(therapist, f"/fhir/R4/Patient/{first.pk}/$everything")
    found = resources(bundle)
    types = {r["resourceType"] for r in found}
    assert types == set(mapping.RESOURCE_TYPES) - {"Questionnaire", "PractitionerRole"}
    for resource in found:
        reference = resource.get("subject", resource.get("patient", {})).get("reference")
        assert reference in (None, f"Patient/{first.pk}")
    assert [r for r in found if r["resourceType"] == "Patient"] == [get(therapist, f"/fhir/R4/Patient/{first.pk}")]


def test_metadata_lists_exactly_what_is_served(therapist, db):
    statement = get(therapist, "/fhir/R4/metadata")
    assert statement["fhirVersion"] == "4.0.1"
    listed = {resource["type"]: resource for resource in statement["rest"][0]["resource"]}
    assert set(listed) == set(mapping.RESOURCE_TYPES)
    assert [p["name"] for p in listed["Appointment"]["searchParam"]] == ["_id", "_lastUpdated", "patient", "date",
                                                                        "_count"]
    assert listed["Patient"]["operation"][0]["name"] == "everything"


@pytest.mark.parametrize("accept", ["application/fhir+json", "application/json", "text/html", "*/*"])
def test_any_accept_gets_fhir_json(therapist, db, accept):
    response = fhir_client(therapist).get("/fhir/R4/metadata?_format=json", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"].startswith(FHIR_JSON)


def test_token_authentication_works_as_for_the_api(therapist, db):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token = Token.objects.create(user=therapist)
    client = APIClient()
    assert client.get("/fhir/R4/metadata").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/fhir/R4/metadata").status_code == 200


def test_front_desk_and_nobody_get_an_operation_outcome(frontdesk, db):
    from rest_framework.test import APIClient

    assert get(frontdesk, "/fhir/R4/Patient", status=403)["issue"][0]["code"] == "forbidden"
    response = APIClient().get("/fhir/R4/Patient")
    assert response.status_code == 401 and response.json()["resourceType"] == "OperationOutcome"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("user", ["therapist", "assistant", "manager"])
def test_clinical_readers_may_read(request, db, user):
    search(request.getfixturevalue(user), "Patient")


def test_every_read_writes_the_access_log(clinic, therapist):
    patient = clinic()
    AccessLog.objects.all().delete()
    get(therapist, f"/fhir/R4/Patient/{patient.pk}")
    observations = resources(search(therapist, "Observation?_count=4"))
    rows = list(AccessLog.objects.order_by("id").values("record_type", "patient_id", "via", "user"))
    assert rows[0] == {"record_type": "patients.patient", "patient_id": patient.pk, "via": "fhir",
                       "user": therapist.pk}
    assert len(rows) == 1 + len(observations) == 5
    assert {row["patient_id"] for row in rows} == {patient.pk}


@pytest.mark.parametrize("resource_type", mapping.RESOURCE_TYPES)
def test_a_search_page_takes_the_same_queries_whatever_the_clinic_size(clinic, therapist, resource_type):
    client = fhir_client(therapist)
    clinic()
    client.get("/fhir/R4/metadata")  # warm up the session's own queries

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/fhir/R4/{resource_type}?_count=200").status_code == 200
        return len(captured)

    small = queries()
    for _ in range(2):
        clinic(ReferralFactory().patient)
    assert queries() == small


def test_the_openapi_schema_points_integrators_at_the_fhir_api_the_feeds_and_the_webhooks(db, client):
    from tests.factories import UserFactory

    client.force_login(UserFactory(role="clinic_manager"))
    schema = client.get("/api/schema/?format=json").json()
    description = schema["info"]["description"]
    assert "/fhir/R4/metadata" in description and "$export" in description
    assert "/calendars/feed/" in description and "webhook" in description
    assert "/api/v1/webhook-endpoints/" in schema["paths"]
