from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.notifications import reminders, services


class Command(BaseCommand):
    help = "Run the reminder scans once (as beat does) and print how many e-mails each queued."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at", metavar="ISO-TIME",
            help="Scan as if it were this time, e.g. 2026-11-24T09:00+00:00 (default: now; no offset: clinic time).",
        )

    def handle(self, *args, at=None, **options):
        now = self.parse_time(at) if at else timezone.now()
        try:
            counts, failure = reminders.run_due_scans(now), None
        except reminders.ScanFailed as error:
            counts, failure = error.counts, error
        services.dispatch_due()
        for kind, count in counts.items():
            self.stdout.write(f"{kind}: {count}")
        if failure:
            raise CommandError(str(failure))

    def parse_time(self, text: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--at {text!r} is not an ISO time such as 2026-11-24T09:00+00:00") from None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)  # the clinic's zone (TIME_ZONE)
        return moment
