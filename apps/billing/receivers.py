"""Billing's answers to the visits app's signals (connected in BillingConfig.ready)."""

from apps.billing import services


def bill_signed_note(sender, note, **kwargs):
    services.bill_note(note=note)


def rebill_corrected_note(sender, addendum, **kwargs):
    if addendum.treatment_minutes is not None:
        services.rebill_note(note=addendum.note, reason=f"minutes corrected by addendum #{addendum.pk}")
