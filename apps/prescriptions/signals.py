from django.dispatch import Signal

# Sent (inside the activating transaction) when a program becomes the patient's active
# one, whatever the way in; arguments: program, by.
program_activated = Signal()
