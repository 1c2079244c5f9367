"""The lower apps' signals, turned into webhook events (connected in WebhooksConfig.ready).

Each signal is sent inside the transaction of the change, so the deliveries written here
commit or roll back with it: an event is recorded for every committed change and never for
one rolled back.
"""

from apps.webhooks import events, services
from apps.webhooks.events import Event


def appointment_booked(sender, appointment, **kwargs):
    services.record_event(event=Event.APPOINTMENT_BOOKED, data=events.appointment_data(appointment))


def appointment_rescheduled(sender, appointment, previous_start, **kwargs):
    services.record_event(event=Event.APPOINTMENT_RESCHEDULED,
                          data=events.appointment_data(appointment, previous_start=previous_start.isoformat()))


def appointment_cancelled(sender, appointment, **kwargs):
    services.record_event(event=Event.APPOINTMENT_CANCELLED, data=events.appointment_data(appointment))


def program_activated(sender, program, **kwargs):
    services.record_event(event=Event.PROGRAM_ACTIVATED, data=events.program_data(program))


def note_signed(sender, note, **kwargs):
    services.record_event(event=Event.VISIT_NOTE_SIGNED, data=events.note_data(note))


def invoice_issued(sender, invoice, **kwargs):
    services.record_event(event=Event.INVOICE_ISSUED, data=events.invoice_data(invoice))
