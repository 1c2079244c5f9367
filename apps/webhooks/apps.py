from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from apps.billing.signals import invoice_issued
        from apps.prescriptions.signals import program_activated
        from apps.scheduling import signals as scheduling
        from apps.visits.signals import note_signed
        from apps.webhooks import receivers

        # Every event is heard inside the transaction of the change (see receivers.py).
        scheduling.appointment_booked.connect(receivers.appointment_booked, dispatch_uid="webhooks.booked")
        scheduling.appointment_rescheduled.connect(receivers.appointment_rescheduled,
                                                   dispatch_uid="webhooks.rescheduled")
        scheduling.appointment_cancelled.connect(receivers.appointment_cancelled, dispatch_uid="webhooks.cancelled")
        program_activated.connect(receivers.program_activated, dispatch_uid="webhooks.program_activated")
        note_signed.connect(receivers.note_signed, dispatch_uid="webhooks.note_signed")
        invoice_issued.connect(receivers.invoice_issued, dispatch_uid="webhooks.invoice_issued")
