"""Benchmark of billing: the month-end CSV export of charge lines against PostgreSQL's own
``COPY (SELECT ...) TO STDOUT WITH CSV``, and the queries of charge creation at signing.

    .venv/bin/python bench/billing.py                # 100,000 charge lines
    .venv/bin/python bench/billing.py --scale 0.05   # 5,000: a quick check (.ci/run)

It drops and recreates its own database (``hipclinic_bench`` unless --database-url or
BENCH_DATABASE_URL says otherwise), writes a few notes and, from them, 50,000 charges of
two lines each in one month (``bulk_create``: the charges are rows, not signings). Then:

* the export as the API streams it (``apps.billing.exports``: one ``values_list`` query read
  through a server-side cursor in chunks, each row defused and written by ``csv.writer``),
  its wall time and its peak Python memory (tracemalloc), consumed chunk by chunk;
* ``COPY (SELECT the same columns ...) TO STDOUT WITH CSV`` through psycopg's ``cursor.copy``,
  read block by block, the same measures; both produce the same number of rows;
* ``bill_note`` on notes with 1 and with 6 codes: the queries it runs must be equal (the codes,
  the prices and the lines are each one query, whatever their number).

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Timings,
    add_database_options,
    database_name,
    drop_database,
    line,
    machine,
    migrate,
    ratio,
    recreate_database,
    setup_django,
    timed,
)

PASSWORD = "bench-password-long-enough"  # noqa: S105  (a bench user in a throwaway database)
CODES_OF_SIX = [("97110", 10), ("97112", 9), ("97140", 8), ("97530", 8), ("97116", 8), ("97535", 5)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (100,000 charge lines)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions of each (after one warm-up run)")
    add_database_options(parser)
    args = parser.parse_args()
    args.lines = max(1000, int(100_000 * args.scale))
    return args


# ---------------------------------------------------------------------------- data


def signed_notes(count: int):
    """``count`` signed notes of one patient, one visit a day ending yesterday, each with no minutes yet."""
    from datetime import UTC, date, datetime, timedelta

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import set_role
    from apps.scheduling.models import Appointment, AppointmentKind, Therapist
    from apps.visits import services
    from tests.factories import PatientFactory

    therapist = User.objects.create_user("bench-therapist", password=PASSWORD, first_name="Theo",
                                         last_name="Bench")
    set_role(user=therapist, role=Role.THERAPIST)
    rota = Therapist.objects.create(user=therapist)
    patient = PatientFactory()
    services.create_plan(patient=patient, therapist=therapist, created_by=therapist, visits_per_week=7,
                         duration_weeks=52, diagnoses=[("M62.81", ""), ("M25.551", "Pain in right hip")],
                         started_on=date.today() - timedelta(days=count + 30))
    kind = AppointmentKind.objects.get(slug="evaluation") if AppointmentKind.objects.filter(
        slug="evaluation").exists() else AppointmentKind.objects.first()
    start = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=count)
    notes = []
    for day in range(count):
        begin = start + timedelta(days=day)
        visit = Appointment.objects.create(patient=patient, therapist=rota, kind=kind, start=begin,
                                           end=begin + timedelta(minutes=60), status="completed",
                                           booked_by=therapist)
        notes.append(services.start_note(appointment=visit, author=therapist))
    return therapist, notes


def fill(charges: int, notes: list) -> tuple:
    """``charges`` charges of two lines each, one month's dates of service, as revisions of the notes
    (a revision is a small integer: the charges are spread over several notes)."""
    from datetime import date, timedelta
    from decimal import Decimal

    from django.db import connection

    from apps.billing.models import Charge, ChargeLine, Payer

    payer = Payer.objects.get(kind="self_pay")
    first = date(2026, 1, 1)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    made = Charge.objects.bulk_create(
        [Charge(note=notes[n % len(notes)], revision=100 + n // len(notes), patient_id=notes[0].patient_id,
                therapist_id=notes[0].author_id, payer=payer,
                date_of_service=first + timedelta(days=n % 31), units_rule="cms_total_time",
                diagnoses=["M62.81", "M25.551"], currency="USD", total=Decimal("120.00"),
                patient_share=Decimal("120.00"), status="void", void_reason="bench")
         for n in range(charges)], batch_size=5000)
    ChargeLine.objects.bulk_create(
        [ChargeLine(charge=charge, code=code, description=code, modifiers="GP", minutes=minutes, units=units,
                    diagnosis_pointers="1,2", unit_price=Decimal("40.00"), amount=Decimal(40 * units))
         for charge in made for code, minutes, units in [("97110", 23, 2), ("97140", 8, 1)]], batch_size=10000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return first, first + timedelta(days=30)


# ---------------------------------------------------------------------------- the two exports


def copy_sql(start, end) -> str:
    """The export's rows as one statement for COPY: the same join, columns and order (no defusing)."""
    from apps.billing.models import Charge, ChargeLine, Payer
    from apps.patients.models import Patient

    users = "accounts_user"
    return (f"SELECT c.date_of_service, c.id, c.revision, c.status, p.record_number, y.name, "
            f"trim(u.first_name || ' ' || u.last_name), l.code, l.modifiers, l.units, l.minutes, "
            f"l.diagnosis_pointers, c.diagnoses::text, l.unit_price, l.amount, c.currency "
            f"FROM {ChargeLine._meta.db_table} l JOIN {Charge._meta.db_table} c ON c.id = l.charge_id "
            f"JOIN {Patient._meta.db_table} p ON p.id = c.patient_id JOIN {Payer._meta.db_table} y "
            f"ON y.id = c.payer_id JOIN {users} u ON u.id = c.therapist_id "
            f"WHERE c.date_of_service BETWEEN '{start:%Y-%m-%d}' AND '{end:%Y-%m-%d}' "
            f"ORDER BY c.date_of_service, c.id, l.id")


def export_through_django(start, end) -> tuple[int, int]:
    """(rows, bytes) of the API's CSV generator, consumed as the response would be."""
    from apps.billing import exports

    rows = size = 0
    for piece in exports.csv_lines(exports.CHARGE_LINE_COLUMNS, exports.charge_line_rows(start=start, end=end)):
        rows += 1
        size += len(piece)
    return rows - 1, size


def export_through_copy(start, end) -> tuple[int, int]:
    """(rows, bytes) of COPY ... TO STDOUT WITH CSV, read block by block on Django's connection."""
    from django.db import connection

    size = rows = 0
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, \
            cursor.copy(f"COPY ({copy_sql(start, end)}) TO STDOUT WITH CSV") as copy:
        for block in copy:
            size += len(block)
            rows += bytes(block).count(b"\n")
    return rows, size


def peak_memory(function, *args) -> int:
    """Peak bytes Python allocated while ``function`` ran (tracemalloc)."""
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------- charge creation


def queries_of_billing(therapist, note, minutes) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from apps.billing import services as billing
    from apps.visits import services
    from apps.visits.models import VisitNote

    services.save_note(note=note, edited_by=therapist, treatment_minutes=[{"code": c, "minutes": m}
                                                                          for c, m in minutes])
    # Marked signed directly (signing asks for the therapist's identity, which is not what is measured).
    VisitNote.objects.filter(pk=note.pk).update(status="signed", signed_at=timezone.now(), signed_by=therapist,
                                                   content_hash="bench")
    note = VisitNote.objects.get(pk=note.pk)
    with CaptureQueriesContext(connection) as captured:
        charge = billing.bill_note(note=note)
    assert charge.lines.count() >= 1
    return len(captured)


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.db import connection

    try:
        migrate()
        print(machine(), flush=True)
        therapist, notes = signed_notes(6)
        (start, end), fill_time = timed(fill, args.lines // 2, notes[:4])
        print(f"{args.lines:,} charge lines ({args.lines // 2:,} charges) from {start} to {end}, filled in "
              f"{fill_time:.1f} s\n", flush=True)

        django_rows, django_bytes = export_through_django(start, end)
        copy_rows, copy_bytes = export_through_copy(start, end)
        assert django_rows == copy_rows == args.lines, (django_rows, copy_rows, args.lines)
        times = Timings.interleaved({"django": lambda: export_through_django(start, end),
                                     "copy": lambda: export_through_copy(start, end)},
                                    repeat=args.repeat, warmup=1)
        django_peak, copy_peak = peak_memory(export_through_django, start, end), peak_memory(
            export_through_copy, start, end)
        print(f"Month-end export of {args.lines:,} charge lines ({args.repeat} timed runs each, taking turns; "
              f"peak memory: Python allocations during one run, tracemalloc)")
        line("  export (values_list iterator + csv.writer, streamed)",
             f"{times['django'].ms()}, peak {django_peak / 1024:,.0f} KiB, {django_bytes / 1e6:.1f} MB")
        line("  COPY (SELECT ...) TO STDOUT WITH CSV",
             f"{times['copy'].ms()}, peak {copy_peak / 1024:,.0f} KiB, {copy_bytes / 1e6:.1f} MB")
        line("  ratio (export / COPY)",
             f"time {ratio(times['django'].median, times['copy'].median)}, "
             f"peak memory {ratio(django_peak, copy_peak)}")
        middle = start + (end - start) / 2
        half_peak = peak_memory(export_through_django, start, middle)
        line("  export's peak memory, first half of the month / whole month",
             f"{half_peak / 1024:,.0f} / {django_peak / 1024:,.0f} KiB (constant memory: it does not grow with "
             f"the rows; the whole CSV is {django_bytes / 1024:,.0f} KiB)")
        print(flush=True)

        one = queries_of_billing(therapist, notes[4], CODES_OF_SIX[:1])
        six = queries_of_billing(therapist, notes[5], CODES_OF_SIX)
        print("Charge creation at signing (bill_note, run again after its charge was removed)")
        line("  queries with 1 code / with 6 codes", f"{one} / {six}")
        assert one == six, f"bill_note ran {one} queries for one code but {six} for six"
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
