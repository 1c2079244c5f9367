"""The reference's procedure codes (clinical-reference.md section 9) and a Self-pay payer."""

from django.db import migrations


def load(apps, schema_editor):
    from apps.billing.reference import ensure_billing_codes, ensure_self_pay

    ensure_billing_codes(apps.get_model("billing", "BillingCode"))
    ensure_self_pay(apps.get_model("billing", "Payer"))


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
