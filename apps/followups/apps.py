from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "apps.followups"
    label = "followups"
    verbose_name = "Follow-ups and adherence"

    def ready(self):
        from apps.followups.services import plan_followups
        from apps.prescriptions.signals import program_activated

        # Activating a program plans its re-assessments, whatever the way in.
        program_activated.connect(plan_followups, dispatch_uid="followups.plan")
