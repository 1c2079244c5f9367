from django.core.management.base import BaseCommand

from apps.reports.services import refresh_figures


class Command(BaseCommand):
    help = ("Recount the dashboard's stored figures up to yesterday (clinic time): the recent days, or every "
            "day with --full. Beat runs it; run it by hand after importing old records.")

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Recount every day, not only the recent ones.")

    def handle(self, *args, full=False, **options):
        self.stdout.write(refresh_figures(full=full).summary)
