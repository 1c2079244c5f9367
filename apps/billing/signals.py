"""What the billing app tells the apps above it (webhooks hear about invoices).

Sent by the service inside its transaction, after the rows are written: a receiver's
writes commit or roll back with the invoice itself.
"""

from django.dispatch import Signal

# sender=Invoice, invoice=: an invoice was issued (numbered, with its lines).
invoice_issued = Signal()
