"""Benchmark of the patient list API (GET /api/v1/patients/) against raw SQL and json.dumps.

    .venv/bin/python bench/patient_list.py                # 100,000 patients
    .venv/bin/python bench/patient_list.py --scale 0.1    # 10,000: a quick check

It drops and recreates its own database (``hipclinic_bench`` unless --database-url says
otherwise), fills it with set-based SQL (``INSERT ... SELECT generate_series``): patients,
some archived, half of them with a referral, one referral in twenty a positive red-flag
screen awaiting a decision. Then, for a few pages of the list, it times:

* the API as it serves them, through Django's test client (in-process: no sockets, but
  every middleware, authentication by API token as the front desk, permissions,
  filtering, pagination, serializer and JSON renderer);
* ``GET /api/v1/me/`` with the same token: the request cycle alone (middleware, token,
  permissions, DRF), the floor under any API page whatever its query;
* one raw SQL query selecting the same page's columns (and the red-flag alert), on the
  same connection, turned into the same JSON with the standard library's ``json.dumps``;
  and the same plus the raw ``COUNT(*)`` that the API's page carries. The SQL is the
  selector's own (its WHERE, ORDER BY and EXISTS, only the shown columns), written once
  before timing, so both sides ask PostgreSQL the same question;

checks that both answers hold the same rows and values, and prints the median and p95 of
N repetitions (the three taking turns), the queries the API ran, where the API's time goes
(the ORM fetch, the serializer and the renderer timed alone), and the ratios.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
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

FIRST_NAMES = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Emily", "Noah", "Oliver",
               "George", "Leo", "Arthur", "Muhammad", "Harry", "Oscar", "Archie", "Henry", "Jack", "Theo", "Ella",
               "Ruby", "Sophie", "Aisha", "Priya", "Wei", "Kofi", "Mateo"]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
            "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
            "Clarke", "Khan", "Harris", "Lewis", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore",
            "Clark", "King", "Harrison", "Lee", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson",
            "Nguyen", "Okafor", "Kowalski", "Garcia", "Murphy", "O'Brien", "Campbell", "Stewart", "Young", "Baker"]

# The serialized columns; "archived" is archived_at IS NOT NULL.
COLUMNS = ["id", "record_number", "first_name", "last_name", "date_of_birth", "sex", "email", "phone", "time_zone",
           "preferred_contact", "email_consent", "email_consent_changed_at", "notes", "archived_at", "red_flag_alert"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (100,000 patients)")
    parser.add_argument("--patients", type=int, help="patients to create (default 100,000 x scale)")
    parser.add_argument("--repeat", type=int, default=30, help="timed repetitions of each (after 3 warm-up runs)")
    add_database_options(parser)
    args = parser.parse_args()
    args.patients = args.patients or max(1000, int(100_000 * args.scale))
    return args


# ---------------------------------------------------------------------------- data


def fill(count: int):
    """Patients (one in 50 archived, e-mail consent for most, a phone for half), a referral for
    every other patient, one referral in 20 a positive screen with no decision yet."""
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import set_role
    from apps.patients.models import Patient, Referral

    desk = User.objects.create_user("bench-desk", email="desk@clinic.test")
    set_role(user=desk, role=Role.FRONT_DESK)
    token = Token.objects.create(user=desk)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute(
            f"""INSERT INTO {Patient._meta.db_table} (record_number, first_name, last_name, date_of_birth, sex, email,
                    phone, time_zone, preferred_contact, email_consent, email_consent_changed_at, notes, archived_at,
                    created_at, updated_at)
                SELECT 'HC' || lpad(g::text, 6, '0'), (%(first)s::text[])[1 + (g * 7) %% %(nf)s],
                       (%(last)s::text[])[1 + (g * 13) %% %(nl)s], DATE '1940-01-01' + (g * 37) %% 25000,
                       (ARRAY['female', 'male', 'other', 'unknown'])[1 + g %% 4], 'patient' || g || '@example.org',
                       CASE WHEN g %% 2 = 0 THEN '+44790' || lpad((g %% 1000000)::text, 7, '0') ELSE '' END,
                       'Europe/London', CASE WHEN g %% 5 = 0 THEN 'phone' ELSE 'email' END, g %% 10 <> 0,
                       CASE WHEN g %% 10 <> 0 THEN now() - make_interval(days => g %% 900) END,
                       CASE WHEN g %% 7 = 0 THEN 'Prefers morning appointments.' ELSE '' END,
                       CASE WHEN g %% 50 = 0 THEN now() END, now(), now()
                FROM generate_series(1, %(count)s) AS g""",
            {"first": FIRST_NAMES, "nf": len(FIRST_NAMES), "last": SURNAMES, "nl": len(SURNAMES), "count": count},
        )
        cursor.execute(
            f"""INSERT INTO {Referral._meta.db_table} (patient_id, cause, cause_other, referring_clinician,
                    referral_date, surgery_date, reason, red_flags, red_flag_decision, red_flag_decision_note,
                    red_flag_decided_by_id, red_flag_decided_at, created_at)
                SELECT id, 'prolonged_sitting', '', 'Dr A. Example', CURRENT_DATE - (id % 300)::int, NULL,
                       'Weak hip flexors after years at a desk.',
                       CASE WHEN id % 20 = 0 THEN '["weight_loss"]'::jsonb ELSE '[]'::jsonb END, '', '', NULL, NULL,
                       now()
                FROM {Patient._meta.db_table} WHERE id % 2 = 0"""
        )
        cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a settled table
    return token.key


# ---------------------------------------------------------------------------- the raw baseline


def when(value, zone) -> str | None:
    """A date-time as DRF writes it (the current time zone; "Z" for UTC)."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def listed(q: str, after: tuple | None):
    """The selector's list; after a cursor's key (last name, first name, id), the keyset's rows."""
    from django.db.models import Q

    from apps.patients import selectors

    rows = selectors.patient_list(text=q)
    if after:
        last, first, pk = after
        rows = rows.filter(Q(last_name__gte=last) & (Q(last_name__gt=last) | Q(last_name=last, first_name__gt=first)
                                                     | Q(last_name=last, first_name=first, id__gt=pk)))
    return rows


def raw_statements(*, q: str, page: int, page_size: int, after: tuple | None = None) -> tuple[tuple, tuple]:
    """The page's SQL and the count's, written once (not timed): the selector's own WHERE,
    ordering and red-flag EXISTS (and for a cursor page the keyset's WHERE), selecting only
    the columns the API shows."""
    offset = (page - 1) * page_size
    rows = listed(q, after).values_list(*COLUMNS)[offset:offset + page_size]
    listed_sql, listed_params = listed(q, None).order_by().values("pk").query.sql_with_params()
    return rows.query.sql_with_params(), (f"SELECT COUNT(*) FROM ({listed_sql}) AS listed", listed_params)


def raw_page(statements: tuple[tuple, tuple], *, with_count: bool) -> bytes:
    """The page by one raw query on Django's connection (two with the count), as JSON from json.dumps."""
    from django.db import connection
    from django.utils import timezone

    (page_sql, page_params), (count_sql, count_params) = statements
    zone = timezone.get_current_timezone()
    with connection.cursor() as cursor:
        count = None
        if with_count:
            cursor.execute(count_sql, count_params)
            count = cursor.fetchone()[0]
        cursor.execute(page_sql, page_params)
        rows = cursor.fetchall()
    results = []
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["date_of_birth"] = item["date_of_birth"].isoformat()
        item["email_consent_changed_at"] = when(item["email_consent_changed_at"], zone)
        item["archived"] = item.pop("archived_at") is not None
        results.append(item)
    return json.dumps({"count": count, "results": results}).encode()


def breakdown(*, query: dict, page: int, page_size: int, repeat: int, after: tuple | None = None
              ) -> tuple[float, float, float]:
    """Medians of the API's parts outside the request cycle: fetching the page's rows through
    the same selector and paginator, PatientSerializer on them, DRF's JSONRenderer on the result."""
    from rest_framework.renderers import JSONRenderer

    from apps.patients.api import PatientSerializer
    from hipclinic.api import LargeListPaginator

    if after:
        rows = listed(query.get("q", ""), after)[:page_size]
    else:  # as the API reads the page (a deep one ids first)
        rows = LargeListPaginator(listed(query.get("q", ""), None), page_size).page(page).object_list
    fetched = list(rows)
    data = {"count": 0, "next": None, "previous": None, "results": PatientSerializer(fetched, many=True).data}
    fetch = Timings.of(lambda: list(rows.all()), repeat=repeat).median
    serialize = Timings.of(lambda: PatientSerializer(fetched, many=True).data, repeat=repeat).median
    render = Timings.of(lambda: JSONRenderer().render(data), repeat=repeat).median
    return fetch, serialize, render


# ---------------------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from apps.patients.models import Patient
    from hipclinic.api import _encode_cursor

    try:
        migrate()
        print(machine(), flush=True)
        token, fill_time = timed(fill, args.patients)
        active = Patient.objects.active().count()
        print(f"{args.patients:,} patients ({active:,} not archived), filled in {fill_time:.1f} s\n", flush=True)

        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        deep = max(1, active // 50 // 2)
        # The cursor that follows the last row of page deep - 1: the same rows as page=deep.
        before = Patient.objects.active().order_by("last_name", "first_name", "id").values_list(
            "last_name", "first_name", "id")[(deep - 1) * 50 - 1]
        pages = [
            ("page 1 (50 rows)", {}, 1, 50, "", None),
            ("page 1, page_size=200", {"page_size": 200}, 1, 200, "", None),
            (f"deep page (page={deep:,})", {"page": deep}, deep, 50, "", None),
            ("search q=Patel, page 1", {"q": "Patel"}, 1, 50, "Patel", None),
            ("cursor, first page", {"cursor": ""}, 1, 50, "", None),
            (f"cursor, as deep as page {deep:,}", {"cursor": _encode_cursor(list(before))}, 1, 50, "", before),
        ]
        print(f"API through Django's test client, token-authenticated as the front desk; {args.repeat} timed runs "
              f"of each after 3 warm-up runs.\n"
              f"raw: the page's columns by one SQL query (the selector's own) on the same connection, "
              f"json.dumps; raw + count: and the COUNT(*) the API's page carries. Taking turns.\n", flush=True)
        def floor():
            # The floor under every API page: middleware, the token, the role's permissions,
            # DRF's request and response cycle, for one small object and no list at all.
            response = client.get("/api/v1/me/", secure=True)
            assert response.status_code == 200, response.status_code
            return response.content

        for label, query, page, page_size, q, after in pages:
            def api(query=query):
                response = client.get("/api/v1/patients/", query, secure=True)
                assert response.status_code == 200, (response.status_code, response.content[:300])
                return response.content

            with CaptureQueriesContext(connection) as captured:
                body = json.loads(api())
            queries = list(captured.captured_queries)  # the next request empties the log
            statements = raw_statements(q=q, page=page, page_size=page_size, after=after)
            raw_body = json.loads(raw_page(statements, with_count=True))
            if body.get("count_is_estimate"):  # PostgreSQL's estimate: near the count
                assert abs(body["count"] - raw_body["count"]) <= raw_body["count"] * 0.1, (body["count"], raw_body)
            elif "count" in body:
                assert body["count"] == raw_body["count"], (body["count"], raw_body["count"])
            assert body["results"] == raw_body["results"], "the raw page differs from the API's"

            # Taking turns, so that the machine's load falls on all three alike.
            times = Timings.interleaved({
                "api": api,
                "floor": floor,
                "raw": lambda statements=statements: raw_page(statements, with_count=False),
                "raw + count": lambda statements=statements: raw_page(statements, with_count=True),
            }, repeat=args.repeat, warmup=3)
            api_time, raw_time, raw_count_time = times["api"], times["raw"], times["raw + count"]
            floor_time = times["floor"]
            if "count" not in body:
                counted = f"cursor mode, no count; {raw_body['count']:,} in the list"
            elif body["count_is_estimate"]:
                counted = f"about {body['count']:,} (estimate; exactly {raw_body['count']:,})"
            else:
                counted = f"{body['count']:,}"
            print(f"{label}: /api/v1/patients/{'?' if query else ''}"
                  f"{'&'.join(f'{k}={v}' for k, v in query.items())}  ({len(body['results'])} rows of "
                  f"{counted}, same values both ways)")
            line("  API", f"{api_time.ms()}  ({len(queries)} queries)")
            line("  raw SQL + json.dumps", f"{raw_time.ms()}  API = {ratio(api_time.median, raw_time.median)}")
            line("  raw SQL + COUNT(*) + json.dumps",
                 f"{raw_count_time.ms()}  API = {ratio(api_time.median, raw_count_time.median)}")
            line("  request cycle alone: GET /api/v1/me/, same token",
                 f"{floor_time.ms()}  = {ratio(floor_time.median, raw_time.median)} raw; API minus it = "
                 f"{(api_time.median - floor_time.median) * 1000:.2f} ms = "
                 f"{ratio(api_time.median - floor_time.median, raw_time.median)} raw")
            fetch, serialize, render = breakdown(query=query, page=page, page_size=page_size, repeat=args.repeat,
                                                 after=after)
            line("  of the API: ORM page fetch / serializer / JSON renderer",
                 f"median {fetch * 1000:.2f} / {serialize * 1000:.2f} / {render * 1000:.2f} ms; the rest "
                 f"{(api_time.median - fetch - serialize - render) * 1000:.2f} ms (middleware, token, permissions, "
                 f"COUNT, filters)")
            slowest = max(queries, key=lambda item: float(item["time"]))
            line("  API's queries", ", ".join(f"{float(item['time']) * 1000:.0f}" for item in queries)
                 + f" ms (slowest: {' '.join(slowest['sql'].split())[:70]}...)")
            print(flush=True)
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
