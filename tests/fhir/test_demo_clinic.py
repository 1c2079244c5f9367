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
