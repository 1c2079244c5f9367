from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "apps.followups"
    label = "followups"
    verbose_name = "Follow-ups and adherence"

    def ready(self):
        from apps.followups import figures, reminders
        from apps.followups.services import plan_followups
        from apps.notifications.reminders import register_scan
        from apps.prescriptions.extras import register_program_figure
        from apps.prescriptions.signals import program_activated

        # Activating a program plans its re-assessments, whatever the way in.
        program_activated.connect(plan_followups, dispatch_uid="followups.plan")
        register_scan(reminders.KIND_WEEKLY_PLAN, reminders.queue_weekly_plans)
        register_scan(reminders.KIND_MISSED_SESSION, reminders.queue_missed_session_nudges)
        register_scan(reminders.KIND_THERAPIST_ALERT, reminders.queue_therapist_alerts)
        register_scan(reminders.KIND_FOLLOWUP_DUE, reminders.queue_followup_due)
        # Adherence on every program: the API's field and the admin's list columns.
        for figure in figures.FIGURES:
            register_program_figure(figure)
