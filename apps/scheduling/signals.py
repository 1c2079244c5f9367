"""What the scheduling app tells the apps above it (webhooks hear about bookings).

Each is sent by the one service that makes the change, inside its transaction, after the
row is written: a receiver's writes (an outbox row) commit or roll back with the change,
so an event is recorded exactly when the change is committed.
"""

from django.dispatch import Signal

# sender=Appointment, appointment=: an appointment was booked (desk, API, series, waitlist offer).
appointment_booked = Signal()
# sender=Appointment, appointment=, previous_start=: a booked appointment was moved (time or therapist).
appointment_rescheduled = Signal()
# sender=Appointment, appointment=: an appointment was cancelled.
appointment_cancelled = Signal()
