"""FHIR Bulk Data export: kick-off, status, manifest and NDJSON files, as the Bulk Data Access spec describes."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.fhir import bulk, mapping
from apps.fhir.models import ExportJob, ExportStatus
from apps.ops.models import AccessLog
from tests import realparts
from tests.factories import PatientFactory, UserFactory

BASE = "/fhir/R4/"
ASYNC = {"HTTP_PREFER": "respond-async", "HTTP_ACCEPT": "application/fhir+json"}


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"
    return settings.FHIR_EXPORT_DIR


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def kick_off(client, path: str = "$export", **params):
    return client.get(BASE + path, params, **ASYNC)


def status_path(response) -> str:
    assert response.status_code == 202, response.content
    return response["Content-Location"].split("testserver", 1)[1]


def outcome_text(response) -> str:
    body = json.loads(response.content)
    assert response["Content-Type"].startswith("application/fhir+json")
    assert body["resourceType"] == "OperationOutcome"
    return " ".join(issue["diagnostics"] for issue in body["issue"])


def export_of(client, path: str = "$export", django_capture_on_commit_callbacks=None, **params) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = kick_off(client, path, **params)
    manifest = client.get(status_path(response))
    assert manifest.status_code == 200, manifest.content
    return json.loads(manifest.content)


def lines_of(client, manifest: dict) -> dict[str, list[dict]]:
    found = {}
    for item in manifest["output"]:
        response = client.get(item["url"].split("testserver", 1)[1])
        assert response.status_code == 200 and response["Content-Type"] == "application/fhir+ndjson"
        lines = b"".join(response.streaming_content).decode().splitlines()
        assert len(lines) == item["count"]
        found.setdefault(item["type"], []).extend(json.loads(line) for line in lines)
    return found


def validate(resource: dict) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_a_manager_exports_the_clinic_and_every_line_is_a_valid_resource(db, django_capture_on_commit_callbacks):
    patients = PatientFactory.create_batch(3)
    manager = UserFactory(role="clinic_manager")
    client = client_of(manager)
    manifest = export_of(client, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["request"].endswith("/fhir/R4/$export")
    assert manifest["transactionTime"].endswith("Z")
    found = lines_of(client, manifest)
    assert set(found) <= set(mapping.RESOURCE_TYPES) and "Patient" in found
    assert sorted(r["id"] for r in found["Patient"]) == sorted(str(p.pk) for p in patients)
    for resources in found.values():
        for resource in resources:
            validate(resource)
    assert AccessLog.objects.filter(user=manager, record_type="fhir.exportfile").count() == len(manifest["output"])


def test_the_demo_clinic_exports_line_by_line_valid(db, django_capture_on_commit_callbacks, settings):
    settings.DEBUG = True  # seed_demo refuses to make demo logins otherwise
    call_command("seed_demo", stdout=None)
    client = client_of(UserFactory(role="clinic_manager"))
    manifest = export_of(client, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    found = lines_of(client, manifest)
    assert set(found) == set(mapping.RESOURCE_TYPES)  # the demo clinic has every kind of record
    for resources in found.values():
        for resource in resources:
            validate(resource)


def test_a_patient_level_export_leaves_out_what_is_in_no_patients_compartment(db, django_capture_on_commit_callbacks):
    PatientFactory()
    client = client_of(UserFactory(role="therapist"))
    manifest = export_of(client, "Patient/$export",
                         django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    types = {item["type"] for item in manifest["output"]}
    assert "Patient" in types and not types & bulk.DEFINITIONAL_TYPES


def test_type_limits_the_export_and_since_leaves_out_older_changes(db, django_capture_on_commit_callbacks):
    PatientFactory()
    client = client_of(UserFactory(role="clinic_manager"))
    manifest = export_of(client, _type="Patient", _outputFormat="application/fhir+ndjson",
                         django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert {item["type"] for item in manifest["output"]} == {"Patient"}


def test_big_exports_are_split_into_files(db, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(bulk, "LINES_PER_FILE", 2)
    PatientFactory.create_batch(5)
    client = client_of(UserFactory(role="clinic_manager"))
    manifest = export_of(client, _type="Patient", django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    assert [(item["count"], item["url"].rsplit("/", 1)[1]) for item in manifest["output"]] == [
        (2, "Patient-1.ndjson"), (2, "Patient-2.ndjson"), (1, "Patient-3.ndjson")]
    assert len(lines_of(client, manifest)["Patient"]) == 5


@pytest.mark.parametrize(("headers", "params", "expected"), [
    ({"HTTP_ACCEPT": "application/fhir+json"}, {}, "Prefer: respond-async"),
    (ASYNC, {"_outputFormat": "text/csv"}, "_outputFormat"),
    (ASYNC, {"_type": "Patient,Spaceship"}, "Spaceship"),
    (ASYNC, {"_type": ""}, "_type"),
    (ASYNC, {"_since": "yesterday"}, "_since"),
    (ASYNC, {"_since": "2026-01-01T00:00:00"}, "_since"),
    (ASYNC, {"_typeFilter": "Patient?name=x"}, "_typeFilter"),
    ({**ASYNC, "HTTP_ACCEPT": "text/html"}, {}, "Accept"),
])
def test_a_bad_kick_off_answers_400_with_an_operation_outcome(db, headers, params, expected):
    client = client_of(UserFactory(role="clinic_manager"))
    response = client.get(BASE + "$export", params, **headers)
    assert response.status_code == 400
    assert expected in outcome_text(response)
    assert not ExportJob.objects.exists()


def test_a_since_in_the_future_is_refused(db):
    client = client_of(UserFactory(role="clinic_manager"))
    future = (timezone.now() + timedelta(days=1)).isoformat()
    response = client.get(BASE + "$export", {"_since": future}, **ASYNC)
    assert response.status_code == 400 and "future" in outcome_text(response)


def test_the_patient_level_refuses_types_outside_patients_compartments(db):
    client = client_of(UserFactory(role="clinic_manager"))
    response = client.get(BASE + "Patient/$export", {"_type": "Organization"}, **ASYNC)
    assert response.status_code == 400 and "Organization" in outcome_text(response)


@pytest.mark.parametrize(("role", "status"), [("front_desk", 403), ("assistant", 403)])
def test_the_front_desk_and_assistants_cannot_export(db, role, status):
    response = kick_off(client_of(UserFactory(role=role)))
    assert response.status_code == status and "export" in outcome_text(response)


def test_without_credentials_the_answer_is_401(db):
    response = APIClient().get(BASE + "$export", **ASYNC)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Token")
    outcome_text(response)


def test_an_api_token_works_and_another_user_sees_neither_the_status_nor_the_files(
        db, django_capture_on_commit_callbacks):
    PatientFactory()
    owner = UserFactory(role="clinic_manager")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    with django_capture_on_commit_callbacks(execute=True):
        status = status_path(kick_off(client))
    manifest = json.loads(client.get(status).content)
    file_url = manifest["output"][0]["url"].split("testserver", 1)[1]
    other = client_of(UserFactory(role="clinic_manager"))
    assert other.get(status).status_code == 404
    assert other.get(file_url).status_code == 404
    assert other.delete(status).status_code == 404
    assert client.get(file_url).status_code == 200


def test_a_second_export_waits_for_the_first(db):
    client = client_of(UserFactory(role="clinic_manager"))
    status = status_path(kick_off(client))  # queued: its task runs after the commit, which never comes here
    response = client.get(status)
    assert response.status_code == 202 and response["X-Progress"] and response["Retry-After"]
    second = kick_off(client)
    assert second.status_code == 429 and "still running" in outcome_text(second)


def test_deleting_the_status_url_cancels_the_export_and_deletes_its_files(db, django_capture_on_commit_callbacks):
    PatientFactory()
    client = client_of(UserFactory(role="clinic_manager"))
    with django_capture_on_commit_callbacks(execute=True):
        status = status_path(kick_off(client))
    job = ExportJob.objects.get()
    assert bulk.job_folder(job).is_dir()
    assert client.delete(status).status_code == 202
    assert client.get(status).status_code == 404
    assert not bulk.job_folder(job).exists()
    assert kick_off(client).status_code == 202  # a new one may start


def test_a_cancelled_job_stops_writing_and_a_finished_job_is_not_run_again(db, django_capture_on_commit_callbacks,
                                                                            monkeypatch):
    monkeypatch.setattr(bulk, "HEARTBEAT_EVERY", 1)
    PatientFactory.create_batch(3)
    client = client_of(UserFactory(role="clinic_manager"))
    with django_capture_on_commit_callbacks(execute=True):
        kick_off(client)
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.COMPLETED
    assert bulk.run_export(job.pk) == "nothing to do"

    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING)
    original = bulk._still_wanted

    def cancelled_meanwhile(job, progress):
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.CANCELLED)
        return original(job, progress)

    monkeypatch.setattr(bulk, "_still_wanted", cancelled_meanwhile)
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.QUEUED)
    assert bulk.run_export(job.pk) == "cancelled"
    assert not bulk.job_folder(job).exists()


def test_files_expire_and_the_sweep_deletes_them(db, django_capture_on_commit_callbacks, settings):
    PatientFactory()
    client = client_of(UserFactory(role="clinic_manager"))
    with django_capture_on_commit_callbacks(execute=True):
        status = status_path(kick_off(client))
    job = ExportJob.objects.get()
    file_url = json.loads(client.get(status).content)["output"][0]["url"].split("testserver", 1)[1]
    later = timezone.now() + timedelta(hours=settings.FHIR_EXPORT_HOURS, minutes=1)
    with time_machine.travel(later, tick=False):
        assert client.get(status).status_code == 404
        assert client.get(file_url).status_code == 404
        assert bulk.sweep_exports()["expired"] == 1
    assert not bulk.job_folder(job).exists()


def test_the_sweep_queues_a_job_whose_task_went_silent(db, django_capture_on_commit_callbacks):
    PatientFactory()
    client = client_of(UserFactory(role="clinic_manager"))
    status = status_path(kick_off(client))  # its task never ran (say the broker lost it)
    with time_machine.travel(timezone.now() + bulk.SILENT_AFTER + timedelta(minutes=1), tick=False):
        assert bulk.sweep_exports()["requeued"] == 1  # eager here: it runs at once
    assert client.get(status).status_code == 200


@pytest.mark.redis
@pytest.mark.worker
def test_a_real_worker_writes_the_export(transactional_db, export_dir):
    PatientFactory.create_batch(2)
    client = client_of(UserFactory(role="clinic_manager"))
    with realparts.celery_worker(FHIR_EXPORT_DIR=str(export_dir)):
        status = status_path(kick_off(client))
        response = realparts.wait_for(lambda: (r := client.get(status)).status_code == 200 and r, timeout=90,
                                      message="the export's manifest")
    found = lines_of(client, json.loads(response.content))
    assert len(found["Patient"]) == 2


@pytest.mark.parametrize("role", ["front_desk", "assistant"])
def test_the_front_desk_and_assistants_cannot_poll_or_download_even_with_the_urls(
        db, django_capture_on_commit_callbacks, role):
    PatientFactory()
    owner = client_of(UserFactory(role="clinic_manager"))
    with django_capture_on_commit_callbacks(execute=True):
        status = status_path(kick_off(owner))
    file_url = json.loads(owner.get(status).content)["output"][0]["url"].split("testserver", 1)[1]
    other = client_of(UserFactory(role=role))
    for response in (other.get(status), other.get(file_url), other.delete(status)):
        assert response.status_code == 403
