from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from apps.patients.models import Patient


class Therapist(models.Model):
    """The bookable side of a therapist's staff account."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="therapist")
    display_name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    npi = models.CharField("NPI", max_length=10, blank=True,
                           help_text="The therapist's own National Provider Identifier, printed on superbills.")

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A weekly block of bookable time, in the clinic's time zone (several per day allowed)."""

    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.IntegerField(choices=Weekday.choices)
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["therapist", "weekday", "start_time"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="working_hours_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    def clean(self):
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValidationError({"end_time": "The end must be after the start."})


class TimeOff(models.Model):
    therapist = models.ForeignKey(Therapist, on_delete=models.CASCADE, related_name="time_off")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name_plural = "time off"
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="time_off_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.therapist} off {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

    def clean(self):
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


class AppointmentKind(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveIntegerField(help_text="Default length of this kind of appointment.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["duration_minutes", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CHECKED_IN = "checked_in", "Checked in"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# Appointments that hold their time: two of these may not overlap for one therapist or
# one patient (the exclusion constraints in migration 0002 say the same on PostgreSQL).
ACTIVE_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN, AppointmentStatus.COMPLETED)

# Which status may follow which; anything else is refused by the services.
STATUS_TRANSITIONS = {
    AppointmentStatus.BOOKED: {AppointmentStatus.CHECKED_IN, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW},
    AppointmentStatus.CHECKED_IN: {AppointmentStatus.COMPLETED, AppointmentStatus.CANCELLED},
    AppointmentStatus.COMPLETED: set(),
    AppointmentStatus.CANCELLED: set(),
    AppointmentStatus.NO_SHOW: set(),
}


class AppointmentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def overlapping(self, start, end):
        """Half-open overlap: an appointment ending at 10:00 does not clash with one starting at 10:00."""
        return self.filter(start__lt=end, end__gt=start)


# A series books at most a year of weekly appointments, repeating at most every 12 weeks.
SERIES_MAX_OCCURRENCES = 52
SERIES_MAX_INTERVAL_WEEKS = 12


class RecurringSeries(models.Model):
    """'Weekly follow-ups for 6 weeks': one Appointment row per occurrence points here."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="series")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="series")
    kind = models.ForeignKey(AppointmentKind, on_delete=models.PROTECT, related_name="+")
    first_start = models.DateTimeField()
    interval_weeks = models.PositiveSmallIntegerField(default=1)
    occurrences = models.PositiveSmallIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "recurring series"

    def __str__(self) -> str:
        return f"{self.kind} every {self.interval_weeks} week(s) x {self.occurrences}"


class Appointment(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="appointments")
    kind = models.ForeignKey(AppointmentKind, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    series = models.ForeignKey(
        RecurringSeries, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    overlap_reason = models.CharField(
        max_length=300, blank=True,
        help_text="Only a clinic manager may book a deliberate overlap, and must say why.",
    )
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["start", "id"]),  # the default ordering: admin pages read it, not sort it
            models.Index(fields=["therapist", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["status", "start"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="appointment_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def can_move_to(self, status: str) -> bool:
        return status in STATUS_TRANSITIONS[AppointmentStatus(self.status)]


class AppointmentStatusChange(models.Model):
    """Who changed an appointment's status, when and why (one row per change)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=AppointmentStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=AppointmentStatus.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    BOOKED = "booked", "Booked an earlier slot"
    WITHDRAWN = "withdrawn", "Withdrawn"


class WaitlistEntry(models.Model):
    """A patient asking for an earlier slot than the one they have (or any slot)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="waitlist_entries")
    kind = models.ForeignKey(AppointmentKind, on_delete=models.PROTECT, related_name="+")
    therapist = models.ForeignKey(
        Therapist, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Leave empty for any therapist.",
    )
    current_appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The later appointment an accepted offer replaces.",
    )
    earliest = models.DateField(help_text="First day the patient can come.")
    latest = models.DateField(help_text="Last day worth offering.")
    status = models.CharField(max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            models.CheckConstraint(condition=Q(latest__gte=models.F("earliest")), name="waitlist_window_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} between {self.earliest} and {self.latest}"


class WaitlistOffer(models.Model):
    """A freed slot offered to one waitlisted patient; the first to accept gets it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        GONE = "gone", "Taken by someone else"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    freed_appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="offers")
    therapist = models.ForeignKey(Therapist, on_delete=models.PROTECT, related_name="+")
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    booked_appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "freed_appointment"], name="one_offer_per_entry_and_slot"),
        ]

    def __str__(self) -> str:
        return f"offer {self.start:%Y-%m-%d %H:%M} ({self.status})"
