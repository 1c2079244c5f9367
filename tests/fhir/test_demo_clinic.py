"""Every resource of every type the demo clinic gives is valid FHIR (fhir.resources R4B models)."""

import io

import pytest
from django.core.management import call_command
from fhir.resources.R4B import get_fhir_model_class

from apps.fhir import mapping


@pytest.fixture
def demo_clinic(db):
    call_command("seed_demo", "--allow-production", stdout=io.StringIO())


def validate(resource: dict) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_every_resource_of_the_demo_clinic_is_valid_and_every_type_has_some(demo_clinic):
    counts = {}
    for resource_type in mapping.RESOURCE_TYPES:
        for resource in mapping.iter_resources(resource_type, chunk_size=7):
            assert resource["resourceType"] == resource_type
            validate(resource)
            assert mapping.read(resource_type, resource["id"]) == resource
            counts[resource_type] = counts.get(resource_type, 0) + 1
    assert set(counts) == set(mapping.RESOURCE_TYPES)
    provenance = {resource["id"].split("-")[0] for resource in mapping.iter_resources("Provenance")}
    assert provenance == {"sign", "cosign", "addendum"}
    observations = {resource["id"].split("-")[0] for resource in mapping.iter_resources("Observation")}
    assert observations >= {"pain", "mmt", "kneehold", "nprs"}


def test_iter_resources_takes_a_fixed_number_of_queries_per_chunk(clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import ReferralFactory

    def queries() -> dict[str, int]:
        counts = {}
        for resource_type in mapping.RESOURCE_TYPES:
            with CaptureQueriesContext(connection) as captured:
                assert list(mapping.iter_resources(resource_type, chunk_size=1000))
            counts[resource_type] = len(captured)
        return counts

    clinic()
    small = queries()
    for _ in range(3):
        clinic(ReferralFactory().patient)
    assert queries() == small


def test_iter_resources_limits_to_patients_and_changes_since(clinic):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import ReferralFactory

    first = clinic()
    second = clinic(ReferralFactory().patient)
    mine = list(mapping.iter_resources("Observation", patient_ids=[first.pk], chunk_size=2))
    assert mine and {o["subject"]["reference"] for o in mine} == {f"Patient/{first.pk}"}
    both = list(mapping.iter_resources("Observation", patient_ids=[first.pk, second.pk], chunk_size=2))
    assert len(both) == 2 * len(mine)
    assert list(mapping.iter_resources("Practitioner", patient_ids=[first.pk])) == []
    later = timezone.now() + timedelta(minutes=1)
    assert list(mapping.iter_resources("Observation", since=later)) == []
    assert len(list(mapping.iter_resources("Practitioner", since=later))) == 2  # no change times: all


def test_to_resource_maps_a_row_to_its_resource(clinic):
    from apps.assessments.models import OutcomeMeasure
    from apps.visits.models import PlanOfCare

    patient = clinic()
    assert mapping.to_resource(patient) == mapping.read("Patient", str(patient.pk))
    assert mapping.to_resource(PlanOfCare.objects.get())["resourceType"] == "EpisodeOfCare"
    assert mapping.to_resource(OutcomeMeasure.objects.get(measure="nprs"))["id"].startswith("nprs-")
