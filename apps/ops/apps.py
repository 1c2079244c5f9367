from django.apps import AppConfig
from django.core.signals import request_started
from django.db.models.signals import post_save


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self):
        from celery.signals import task_prerun

        from apps.accounts import two_factor
        from apps.ops import checks  # noqa: F401 - registers the system checks
        from apps.ops.models import ClinicPolicy
        from apps.ops.policy import clinic_policy, forget_clinic_policy

        # The clinic's policy is read once per request or task (apps/ops/policy.py).
        request_started.connect(forget_clinic_policy, dispatch_uid="ops.policy.request")
        task_prerun.connect(forget_clinic_policy, dispatch_uid="ops.policy.task", weak=False)
        post_save.connect(forget_clinic_policy, sender=ClinicPolicy, dispatch_uid="ops.policy.saved")
        # Whether the front desk signs in with two-factor is the clinic's choice.
        two_factor.require_for_front_desk_when(lambda: clinic_policy().two_factor_for_front_desk)
