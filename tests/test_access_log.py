"""Reading a clinical record writes an access-log row (who, what, when), visible to managers only."""

import pytest

from apps.assessments.models import Assessment
from apps.ops.models import AccessLog
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_reading_an_assessment_by_api_or_admin_and_a_patients_progress_are_logged(client, api_client, therapist):
    assessment = Assessment.objects.create(patient=PatientFactory(), therapist=therapist)
    api_client.force_authenticate(therapist)
    client.force_login(therapist)

    api_client.get(f"/api/v1/assessments/{assessment.pk}/")
    client.get(f"/admin/assessments/assessment/{assessment.pk}/change/")
    api_client.get(f"/api/v1/patients/{assessment.patient_id}/progress/")

    rows = list(AccessLog.objects.order_by("id").values_list("user", "record_type", "record_id", "patient_id", "via"))
    assert rows == [
        (therapist.pk, "assessments.assessment", str(assessment.pk), assessment.patient_id, "api"),
        (therapist.pk, "assessments.assessment", str(assessment.pk), assessment.patient_id, "admin"),
        (therapist.pk, "patients.patient", str(assessment.patient_id), assessment.patient_id, "api"),
    ]


def test_a_refused_read_is_not_logged_as_an_access(api_client, frontdesk, therapist):
    assessment = Assessment.objects.create(patient=PatientFactory(), therapist=therapist)
    api_client.force_authenticate(frontdesk)

    assert api_client.get(f"/api/v1/assessments/{assessment.pk}/").status_code == 403
    assert not AccessLog.objects.exists()


def test_managers_see_the_access_log_and_nobody_else_does(client, manager, therapist, frontdesk):
    for user, status in [(manager, 200), (therapist, 403), (frontdesk, 403)]:
        client.force_login(user)
        assert client.get("/admin/ops/accesslog/").status_code == status
