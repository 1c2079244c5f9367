"""Writing the access log: every read of a clinical record, by the API or the admin."""

from __future__ import annotations

from apps.ops.models import AccessLog


def record_access(*, user, instance, via: str) -> None:
    patient_id = getattr(instance, "patient_id", None)
    if patient_id is None and instance._meta.label_lower == "patients.patient":
        patient_id = instance.pk
    AccessLog.objects.create(user=user if user.is_authenticated else None, record_type=instance._meta.label_lower,
                             record_id=str(instance.pk), patient_id=patient_id, via=via)


class AccessLoggedRetrieveMixin:
    """DRF viewsets: reading one clinical record writes an access-log row."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        record_access(user=request.user, instance=self.get_object(), via="api")
        return response


class AccessLoggedAdminMixin:
    """Admin: opening a clinical record's page writes an access-log row."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            instance = self.get_object(request, object_id)
            if instance is not None:
                record_access(user=request.user, instance=instance, via="admin")
        return response
