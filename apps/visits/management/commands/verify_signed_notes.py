from django.core.management.base import BaseCommand, CommandError

from apps.visits.selectors import hash_results


class Command(BaseCommand):
    help = ("Recompute the SHA-256 of every signed visit note and addendum and compare it with the stored one. "
            "Prints one line per mismatch (ids only) and a summary; exits 1 on any mismatch.")

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, metavar="N",
                            help="Rows read from the database at a time (default 2000).")

    def handle(self, *args, chunk_size=2000, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        counts = {"note": 0, "addendum": 0}
        mismatches = 0
        for result in hash_results(chunk_size=chunk_size):
            counts[result.kind] += 1
            if not result.matches:
                mismatches += 1
                self.stdout.write(f"MISMATCH {result.label}: content does not match its signed hash")
        checked = f"checked {counts['note']} notes and {counts['addendum']} addenda"
        if mismatches:
            raise CommandError(f"{checked}: {mismatches} mismatch{'es' if mismatches != 1 else ''}")
        self.stdout.write(f"{checked}: all match")
