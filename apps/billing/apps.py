from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_reference_rows(sender, **kwargs):
    from apps.billing.reference import ensure_billing_codes, ensure_self_pay

    ensure_billing_codes()
    ensure_self_pay()


def _codes_of_the_clinic():
    from apps.billing.selectors import procedures

    return procedures()


class BillingConfig(AppConfig):
    name = "apps.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self):
        from apps.billing import receivers
        from apps.visits import codes, signals

        # Notes record minutes against the clinic's own code table.
        codes.register_procedure_source(_codes_of_the_clinic)
        # A signature bills the visit; an addendum that corrects minutes re-bills it.
        signals.note_signed.connect(receivers.bill_signed_note, dispatch_uid="billing.note_signed")
        signals.addendum_signed.connect(receivers.rebill_corrected_note, dispatch_uid="billing.addendum_signed")
        from apps.billing.demo import seed
        from hipclinic.demo import register_demo_seeder

        register_demo_seeder(seed)
        # TransactionTestCase flushes rows written by data migrations: put the codes and Self-pay back.
        post_migrate.connect(_ensure_reference_rows, sender=self, dispatch_uid="billing.reference_rows")
