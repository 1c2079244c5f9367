from django.core.management.base import BaseCommand, CommandError

from apps.visits.selectors import check_hashes


class Command(BaseCommand):
    help = ("Recompute the SHA-256 of every signed visit note and addendum and compare it with the stored one. "
            "Prints one line per mismatch (ids only) and a summary; exits 1 on any mismatch.")

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, metavar="N",
                            help="Rows read from the database at a time (default 2000).")

    def handle(self, *args, chunk_size=2000, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        check = check_hashes(chunk_size=chunk_size, on_mismatch=lambda line: self.stdout.write(f"MISMATCH {line}"))
        if check.mismatches:
            raise CommandError(check.summary)
        self.stdout.write(check.summary)
