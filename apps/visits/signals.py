"""What the visits app tells the apps above it (billing turns signatures into charges).

Both are sent inside the signing transaction, after the row is written: a receiver's
writes commit or roll back with the signature itself.
"""

from django.dispatch import Signal

# sender=VisitNote, note=: a note was signed (an assistant's: signed, awaiting co-signature).
note_signed = Signal()
# sender=Addendum, addendum=: an addendum was signed; ``addendum.treatment_minutes`` is not None
# when it corrects the note's minutes per code (the corrected list replaces the note's).
addendum_signed = Signal()
