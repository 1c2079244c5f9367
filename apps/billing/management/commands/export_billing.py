"""``manage.py export_billing charges|payments --start YYYY-MM-DD --end YYYY-MM-DD``: the API's CSV exports
on standard output (or ``--output FILE``), streamed; bad input exits non-zero with one line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from apps.billing import exports

WHAT = {
    "charges": (exports.CHARGE_LINE_COLUMNS, exports.charge_line_rows),
    "payments": (exports.PAYMENT_COLUMNS, exports.payment_rows),
}


class Command(BaseCommand):
    help = "Write charge lines or payments of a date range as CSV (the columns are fixed: README, Billing)."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=sorted(WHAT))
        parser.add_argument("--start", required=True, help="the first day, YYYY-MM-DD")
        parser.add_argument("--end", required=True, help="the last day (included), YYYY-MM-DD")
        parser.add_argument("--output", help="a file to write (default: standard output)")

    def handle(self, *args, what, start, end, output=None, **options):
        try:
            start, end = exports.date_range({"start": start, "end": end})
        except ValidationError as error:
            raise CommandError("; ".join(f"--{name}: {' '.join(messages)}"
                                         for name, messages in error.detail.items())) from None
        columns, rows = WHAT[what]
        lines = exports.csv_lines(columns, rows(start=start, end=end))
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            with open(output, "w", newline="", encoding="utf-8") as target:
                target.writelines(lines)
        except OSError as error:
            raise CommandError(f"--output: {error.strerror}: {output}") from None
