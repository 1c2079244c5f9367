"""Benchmark of the manager's dashboard figures (``apps.reports.figures.summary``) against the same
aggregates written by hand in SQL.

    .venv/bin/python bench/reports.py                          # 1,000,000 appointments (minutes to fill)
    .venv/bin/python bench/reports.py --scale 0.01 --repeat 3  # 10,000: a quick check (.ci/run)

It drops and recreates its own database (``hipclinic_bench`` unless --database-url or
BENCH_DATABASE_URL says otherwise) and fills it with set-based SQL (``INSERT ... SELECT
generate_series``, and ``INSERT ... SELECT`` from the rows already made), at --scale 1.0:

* 100,000 patients, each with a referral (every cause), 120 therapists working Monday to
  Friday 08:00-18:00;
* 1,000,000 appointments over about 3.2 years ending two months ahead, one an hour, under
  the exclusion constraints (a patient's episode: ten visits every other working day with one
  therapist); past ones 91 % completed, 6 % cancelled (a status change each, some inside
  24 h), 3 % no-show; future ones booked;
* an assessment per episode, 300,000 outcome measures (baseline, middle and last score; one
  patient in ten has no follow-up of the first measure), a program per episode and 400,000
  session logs, a plan of care per episode (discharged when the episode is over), a visit
  note for one completed visit in three (one in 50 unsigned), a charge of one line per
  signed note, an invoice a patient for their charges and a payment for every other charge.

Then, for the 90 days and the 365 days before today, the median of --repeat runs of
``summary()`` and its query count, and of the hand-written SQL answering the same questions
on the same connection (visits, cancellations and no-shows, late cancellations, referrals and
first evaluations, utilisation, adherence, per-measure MCID share from each discharged
patient's first and last score, charges, payments, unsigned notes), taking turns, and the
ratio. ``summary()`` reads the figures the beat task stores (``apps.reports.services.refresh_figures``,
timed first: the nightly full refresh and the quarter-hourly recent one) for the days up to
yesterday and counts today live; ``summary(stored=False)`` counts every day from the records,
and the two must agree. If ``apps.reports.figures`` cannot be imported it says so and times the
SQL alone (exit status 0). A year over 1 s is flagged.

Not part of the test suite (pytest collects ``tests/`` only). See bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
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

SLOTS_PER_DAY = 10  # one appointment an hour, 08:00-18:00 UTC, Monday to Friday
EPISODE_DAYS = 20  # working days of one episode: ten visits, every other working day
MEASURES = ["nprs", "lefs", "odi", "psfs"]
# The MCID of clinical-reference.md section 3 (apps/assessments/scoring/change.py): points, percent or NULL,
# and whether a higher score is better.
MCID_SQL = "(VALUES ('nprs', 2, 30, false), ('lefs', 9, NULL, true), ('odi', 10, 30, false), ('psfs', 2, NULL, true))"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (1,000,000 appointments, 100,000 patients, "
                             "300,000 outcome measures, 400,000 session logs)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (after one warm-up run)")
    add_database_options(parser)
    args = parser.parse_args()
    args.appointments = max(2000, int(1_000_000 * args.scale))
    args.patients = max(200, int(100_000 * args.scale))
    args.therapists = max(1, round(120 * args.scale))
    assert args.patients // args.therapists >= 2 * SLOTS_PER_DAY, "too few patients for this many therapists"
    return args


# ---------------------------------------------------------------------------- data


def fill(args) -> dict:
    """Every row the figures read, set-based; returns counts of what was made."""
    from django.db import connection

    from apps.accounts.models import User
    from apps.accounts.roles import Role
    from apps.accounts.services import set_role
    from apps.billing.models import Payer
    from apps.patients.models import ReferralCause
    from apps.scheduling.models import AppointmentKind, Therapist

    manager = User.objects.create_user("bench-manager", email="manager@clinic.test")
    set_role(user=manager, role=Role.CLINIC_MANAGER)
    therapists = []
    for number in range(args.therapists):
        user = User.objects.create_user(f"bench-therapist-{number}", email=f"t{number}@clinic.test",
                                        first_name="Therapist", last_name=f"{number:03d}")
        set_role(user=user, role=Role.THERAPIST)
        therapists.append(Therapist.objects.create(user=user, display_name=f"Therapist {number:03d}"))
    kinds = {kind.slug: kind.pk for kind in AppointmentKind.objects.all()}
    payer = Payer.objects.get(kind="self_pay").pk
    causes = [value for value in ReferralCause.values]

    working_days = -(-args.appointments // (args.therapists * SLOTS_PER_DAY))
    span = (working_days // 5) * 7 + working_days % 5
    last_day = date.today() + timedelta(days=60)
    first_day = last_day - timedelta(days=span)
    first_day -= timedelta(days=first_day.weekday())  # a Monday
    per_therapist = args.patients // args.therapists
    params = {"patients": args.patients, "n": args.appointments, "t": args.therapists, "s": SLOTS_PER_DAY,
              "e": EPISODE_DAYS, "pt": per_therapist, "first_day": first_day,
              "therapists": [t.pk for t in therapists], "users": [t.user_id for t in therapists],
              "first": kinds["initial_assessment"], "follow": kinds["follow_up"], "re": kinds["reassessment"],
              "causes": causes, "nc": len(causes), "measures": MEASURES, "manager": manager.pk, "payer": payer}
    with connection.cursor() as cursor:
        def run(sql):
            cursor.execute(sql, params)

        run("SET synchronous_commit = off")
        run("""INSERT INTO patients_patient (record_number, first_name, last_name, date_of_birth, sex, email, phone,
                   time_zone, preferred_contact, email_consent, email_consent_changed_at, notes, archived_at,
                   created_at, updated_at)
               SELECT 'HC' || lpad(g::text, 7, '0'), 'Pat' || g, 'Bench', DATE '1950-01-01' + g %% 20000, 'unknown',
                      'p' || g || '@example.org', '', 'UTC', 'email', true, now(), '', NULL, now(), now()
               FROM generate_series(1, %(patients)s) AS g""")
        run("""INSERT INTO scheduling_workinghours (therapist_id, weekday, start_time, end_time)
               SELECT t, d, TIME '08:00', TIME '18:00' FROM unnest(%(therapists)s::bigint[]) AS t,
                      generate_series(0, 4) AS d""")
        cursor.execute("SELECT min(id) FROM patients_patient")
        params["first_patient"] = cursor.fetchone()[0]
        # Row g: therapist g % T, slot n = g / T, working day d = n / S at hour 8 + n % S. The patient is one
        # of the therapist's own P/T, the same one every other working day for an episode of E days (ten
        # visits), so neither a therapist nor a patient is ever in two places at once.
        run("""INSERT INTO scheduling_appointment (patient_id, therapist_id, kind_id, start, "end", status,
                   series_id, overlap_reason, booked_by_id, created_at, updated_at)
               SELECT %(first_patient)s + x.t * %(pt)s + (x.h + %(s)s * (x.d %% 2) + 2 * %(s)s * (x.d / %(e)s))
                          %% %(pt)s,
                      (%(therapists)s::bigint[])[1 + x.t],
                      CASE x.v WHEN 0 THEN %(first)s WHEN 5 THEN %(re)s ELSE %(follow)s END, x.start,
                      x.start + CASE x.v WHEN 0 THEN interval '60 min' WHEN 5 THEN interval '45 min'
                                         ELSE interval '30 min' END,
                      CASE WHEN x.start >= now() THEN 'booked' WHEN (x.g::bigint * 7919) %% 100 < 6 THEN 'cancelled'
                           WHEN (x.g::bigint * 7919) %% 100 < 9 THEN 'no_show' ELSE 'completed' END,
                      NULL, '', %(manager)s, x.start - interval '14 days', x.start - interval '14 days'
               FROM (SELECT g, g %% %(t)s AS t, (g / %(t)s) %% %(s)s AS h, (g / %(t)s) / %(s)s AS d,
                            ((g / %(t)s) / %(s)s %% %(e)s) / 2 AS v,
                            %(first_day)s::timestamptz + make_interval(
                                days => ((g / %(t)s) / %(s)s / 5) * 7 + ((g / %(t)s) / %(s)s) %% 5,
                                hours => 8 + (g / %(t)s) %% %(s)s) AS start
                     FROM generate_series(0, %(n)s - 1) AS g) AS x""")
        run("""INSERT INTO scheduling_appointmentstatuschange (appointment_id, from_status, to_status, changed_by_id,
                   changed_at, reason)
               SELECT id, 'booked', status, %(manager)s,
                      CASE WHEN status = 'no_show' THEN "end" ELSE start - make_interval(hours => (id %% 72)::int) END,
                      ''
               FROM scheduling_appointment WHERE status IN ('cancelled', 'no_show')""")
        # One episode per patient (a patient seen again later counts from the first visit to the last).
        run("""CREATE UNLOGGED TABLE bench_episode AS
               SELECT patient_id, min(start)::date AS first_day, max(start)::date AS last_day,
                      (array_agg(id ORDER BY start))[1] AS first_id,
                      (array_agg(therapist_id ORDER BY start))[1] AS therapist_id
               FROM scheduling_appointment GROUP BY patient_id""")
        run("ALTER TABLE bench_episode ADD PRIMARY KEY (patient_id)")
        run("""INSERT INTO patients_referral (patient_id, cause, cause_other, referring_clinician, referral_date,
                   surgery_date, reason, red_flags, red_flag_decision, red_flag_decision_note, created_at)
               SELECT p.id, (%(causes)s::text[])[1 + p.id %% %(nc)s],
                      CASE WHEN (%(causes)s::text[])[1 + p.id %% %(nc)s] = 'other' THEN 'Bench' ELSE '' END,
                      'Dr A. Example', coalesce(e.first_day, CURRENT_DATE) - (7 + p.id %% 14)::int,
                      coalesce(e.first_day, CURRENT_DATE) - 60, 'Hip pain.', '[]'::jsonb, '', '', now()
               FROM patients_patient p LEFT JOIN bench_episode e ON e.patient_id = p.id""")
        run("""INSERT INTO assessments_assessment (patient_id, therapist_id, appointment_id, assessed_on, complaints,
                   clinical_history, pain_now, pain_worst_week, surgeon_clearance, classification,
                   classification_reasons, warnings, limb_symmetry_index, suggested_rung, rung_reasons, created_at,
                   updated_at)
               SELECT e.patient_id, u.user_id, e.first_id, e.first_day, '[]', '', 6, 7, false, 'weak', '[]', '[]',
                      NULL, 1, '[]', now(), now()
               FROM bench_episode e JOIN scheduling_therapist u ON u.id = e.therapist_id""")
        # Three scores a patient: baseline, middle, last (one in ten: the later two on another measure, so the
        # first has no follow-up). frac is how much of the way to a large change the patient came.
        run("""INSERT INTO assessments_outcomemeasure (patient_id, assessment_id, measure, recorded_on, items, source,
                   recorded_by_id, score, complete, missing_items, score_note, created_at)
               SELECT p.id, CASE WHEN k = 0 THEN a.id END, m.measure,
                      CASE k WHEN 0 THEN coalesce(e.first_day, CURRENT_DATE - 30)
                             WHEN 1 THEN coalesce(e.first_day + 14, CURRENT_DATE - 15)
                             ELSE coalesce(e.last_day, CURRENT_DATE) END,
                      '{}'::jsonb, 'clinician', NULL,
                      CASE m.measure
                          WHEN 'nprs' THEN greatest(0, 6 + p.id %% 4 - round(frac * 5 * k / 2))
                          WHEN 'lefs' THEN least(80, 30 + p.id %% 20 + round(frac * 20 * k / 2))
                          WHEN 'odi' THEN greatest(0, 40 + p.id %% 20 - round(frac * 25 * k / 2))
                          ELSE least(10, 3 + p.id %% 3 + round(frac * 5 * k / 2, 1)) END,
                      true, 0, '', now()
               FROM patients_patient p CROSS JOIN generate_series(0, 2) AS k
                    LEFT JOIN bench_episode e ON e.patient_id = p.id
                    LEFT JOIN assessments_assessment a ON a.appointment_id = e.first_id,
                    LATERAL (SELECT ((p.id * 37) %% 100) / 100.0 AS frac,
                                    (%(measures)s::text[])[1 + (p.id + CASE WHEN k > 0 AND p.id %% 10 = 0 THEN 1
                                                                        ELSE 0 END) %% 4] AS measure) AS m""")
        run("""INSERT INTO prescriptions_program (patient_id, therapist_id, source_assessment_id, start_date, weeks,
                   sessions_per_week, goals, plan_weekday, status, surgeon_clearance, surgeon_clearance_note,
                   activated_at, created_at, updated_at)
               SELECT a.patient_id, a.therapist_id, a.id, e.first_day + 1, 6, 3, '', NULL,
                      CASE WHEN e.last_day >= CURRENT_DATE - 14 THEN 'active' ELSE 'completed' END, false, '',
                      e.first_day + 1, now(), now()
               FROM assessments_assessment a JOIN bench_episode e ON e.patient_id = a.patient_id""")
        cursor.execute("SELECT count(*) FROM prescriptions_program")
        params["programs"] = cursor.fetchone()[0]
        run("""INSERT INTO followups_sessionlog (program_id, session_date, effort, note, source, logged_by_id,
                   submission_key, created_at)
               SELECT pr.id, pr.start_date + ((g / %(programs)s) * 3 + pr.rn %% 2)::int, 'about_right', '',
                      'patient', NULL, 'bench-' || g, now()
               FROM (SELECT id, start_date, row_number() OVER (ORDER BY id) - 1 AS rn FROM prescriptions_program) AS pr
                    JOIN generate_series(0, 4 * %(patients)s - 1) AS g ON g %% %(programs)s = pr.rn""")
        run("""INSERT INTO visits_planofcare (patient_id, referral_id, therapist_id, program_id, started_on,
                   visits_per_week, duration_weeks, treatment, status, discharged_on, created_by_id, created_at,
                   updated_at)
               SELECT pr.patient_id, r.id, pr.therapist_id, pr.id, e.first_day, 2, 6, 'Exercise.',
                      CASE WHEN e.last_day >= CURRENT_DATE - 14 THEN 'open' ELSE 'discharged' END,
                      CASE WHEN e.last_day < CURRENT_DATE - 14 THEN e.last_day END, %(manager)s, now(), now()
               FROM prescriptions_program pr JOIN bench_episode e ON e.patient_id = pr.patient_id
                    JOIN patients_referral r ON r.patient_id = pr.patient_id""")
        run("""INSERT INTO visits_visitnote (appointment_id, patient_id, plan_of_care_id, kind, author_id, subjective,
                   objective, assessment, plan, goal_review, treatment_minutes, status, signed_by_id, signed_at,
                   content_hash, cosigned_by_id, cosigned_at, created_at, updated_at)
               SELECT a.id, a.patient_id, pl.id, 'daily', pl.therapist_id, '', '', '', '', '[]',
                      '[{"code": "97110", "minutes": 30}]',
                      CASE WHEN a.id %% 50 = 0 THEN 'draft' ELSE 'signed' END,
                      CASE WHEN a.id %% 50 <> 0 THEN pl.therapist_id END, CASE WHEN a.id %% 50 <> 0 THEN a."end" END,
                      CASE WHEN a.id %% 50 <> 0 THEN 'bench' ELSE '' END, NULL, NULL, a."end", a."end"
               FROM scheduling_appointment a JOIN visits_planofcare pl ON pl.patient_id = a.patient_id
               WHERE a.status = 'completed' AND a.id %% 3 = 0""")
        run("""INSERT INTO billing_charge (note_id, revision, patient_id, therapist_id, payer_id, date_of_service,
                   units_rule, diagnoses, currency, total, patient_share, status, void_reason, voided_at, created_at)
               SELECT n.id, 1, n.patient_id, n.author_id, %(payer)s, n.signed_at::date, 'cms_total_time', '[]', 'USD',
                      80 + 40 * (n.id %% 3), 80 + 40 * (n.id %% 3), 'active', '', NULL, n.signed_at
               FROM visits_visitnote n WHERE n.status = 'signed'""")
        run("""INSERT INTO billing_chargeline (charge_id, code, description, modifiers, minutes, units,
                   diagnosis_pointers, unit_price, amount)
               SELECT id, '97110', 'Therapeutic exercise', '', 15 * (total / 40)::int, (total / 40)::int, '1', 40,
                      total
               FROM billing_charge""")
        # One invoice a patient for all their charges (the outstanding balance is invoiced less paid).
        run("""INSERT INTO billing_invoice (number, patient_id, issued_on, period_start, period_end, currency, total,
                   status, created_by_id, created_at)
               SELECT 'B' || patient_id, patient_id, max(date_of_service), min(date_of_service), max(date_of_service),
                      'USD', sum(total), 'open', %(manager)s, now()
               FROM billing_charge GROUP BY patient_id""")
        run("""INSERT INTO billing_invoiceline (invoice_id, charge_id, description, amount)
               SELECT i.id, c.id, 'Visit', c.total
               FROM billing_charge c JOIN billing_invoice i ON i.patient_id = c.patient_id""")
        run("""INSERT INTO billing_payment (patient_id, invoice_id, amount, currency, method, received_on, is_credit,
                   reference, recorded_by_id, recorded_at)
               SELECT patient_id, NULL, total, 'USD', 'card', date_of_service + 7, false, '', %(manager)s, now()
               FROM billing_charge WHERE id %% 2 = 0""")
        run("DROP TABLE bench_episode")
        cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a settled table
        counts = {}
        for table in ["patients_patient", "scheduling_appointment", "assessments_outcomemeasure",
                      "followups_sessionlog", "scheduling_appointmentstatuschange", "visits_planofcare",
                      "visits_visitnote", "billing_charge", "billing_invoiceline", "billing_payment"]:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    return counts


# ---------------------------------------------------------------------------- the hand-written SQL


HAND_SQL = [
    ("attendance", """
        SELECT count(*) FILTER (WHERE a.status = 'completed') AS visits,
               count(*) FILTER (WHERE a.status IN ('completed', 'cancelled', 'no_show')) AS scheduled,
               count(*) FILTER (WHERE a.status = 'cancelled') AS cancelled,
               count(*) FILTER (WHERE a.status = 'no_show') AS no_show,
               count(*) FILTER (WHERE a.status = 'cancelled' AND EXISTS (
                   SELECT 1 FROM scheduling_appointmentstatuschange c WHERE c.appointment_id = a.id
                   AND c.to_status = 'cancelled' AND c.changed_at > a.start - interval '24 hours')) AS late,
               coalesce(sum(extract(epoch FROM a."end" - a.start) / 60)
                        FILTER (WHERE a.status <> 'cancelled'), 0) AS booked_minutes
        FROM scheduling_appointment a
        WHERE a.start >= %(start)s::date AND a.start < %(end)s::date + 1"""),
    ("rebook", """
        SELECT count(*) AS finished, count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM scheduling_appointment n WHERE n.patient_id = a.patient_id AND n.start > a.start
                   AND n.status <> 'cancelled' AND n.created_at <= a."end")) AS rebooked
        FROM scheduling_appointment a
        WHERE a.status = 'completed' AND a.start >= %(start)s::date AND a.start < %(end)s::date + 1"""),
    ("working minutes", """
        SELECT coalesce(sum(extract(epoch FROM w.end_time - w.start_time) / 60), 0)
        FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') AS d
             JOIN scheduling_workinghours w ON w.weekday = extract(isodow FROM d) - 1"""),
    ("referrals", """
        SELECT (SELECT count(*) FROM patients_referral WHERE referral_date BETWEEN %(start)s AND %(end)s),
               (SELECT count(*) FROM assessments_assessment WHERE assessed_on BETWEEN %(start)s AND %(end)s)"""),
    ("episodes", """
        SELECT count(*), avg((SELECT count(*) FROM scheduling_appointment a WHERE a.patient_id = p.patient_id
                              AND a.status = 'completed' AND a.start::date BETWEEN p.started_on AND p.discharged_on))
        FROM visits_planofcare p WHERE p.status = 'discharged' AND p.discharged_on BETWEEN %(start)s AND %(end)s"""),
    ("adherence", """
        SELECT (SELECT count(*) FROM followups_sessionlog WHERE session_date BETWEEN %(start)s AND %(end)s),
               coalesce(sum(p.sessions_per_week * (least(%(end)s::date, p.start_date + 7 * p.weeks - 1)
                                                   - greatest(%(start)s::date, p.start_date) + 1) / 7.0), 0),
               count(*) FILTER (WHERE p.status = 'active' AND NOT EXISTS (
                   SELECT 1 FROM followups_sessionlog l WHERE l.program_id = p.id
                   AND l.session_date > %(end)s::date - 7))
        FROM prescriptions_program p
        WHERE p.start_date <= %(end)s AND p.start_date + 7 * p.weeks - 1 >= %(start)s"""),
    ("outcomes", f"""
        WITH discharged AS (
            SELECT p.id, p.patient_id, coalesce(r.referral_date, p.started_on) AS since, p.discharged_on
            FROM visits_planofcare p LEFT JOIN patients_referral r ON r.id = p.referral_id
            WHERE p.status = 'discharged' AND p.discharged_on BETWEEN %(start)s AND %(end)s),
        scores AS (
            SELECT d.id, o.measure, count(*) AS n,
                   (array_agg(o.score ORDER BY o.recorded_on, o.id))[1] AS first,
                   (array_agg(o.score ORDER BY o.recorded_on DESC, o.id DESC))[1] AS last
            FROM assessments_outcomemeasure o JOIN discharged d ON d.patient_id = o.patient_id
                 AND o.recorded_on BETWEEN d.since AND d.discharged_on
            WHERE o.score IS NOT NULL AND o.complete GROUP BY d.id, o.measure),
        changes AS (
            SELECT s.measure, s.n, CASE WHEN m.higher THEN s.last - s.first ELSE s.first - s.last END AS gain,
                   s.first, m.points, m.percent
            FROM scores s JOIN {MCID_SQL} AS m (measure, points, percent, higher) ON m.measure = s.measure)
        SELECT measure, count(*) FILTER (WHERE n > 1) AS followed,
               count(*) FILTER (WHERE n > 1 AND gain > 0 AND (gain >= points OR (percent IS NOT NULL AND first <> 0
                                AND gain * 100 >= percent * first))) AS reached,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY gain) FILTER (WHERE n > 1) AS median_gain,
               count(*) FILTER (WHERE n = 1) AS no_follow_up
        FROM changes GROUP BY measure ORDER BY measure"""),
    ("billing", """
        SELECT (SELECT coalesce(sum(total), 0) FROM billing_charge WHERE status = 'active'
                AND date_of_service BETWEEN %(start)s AND %(end)s),
               (SELECT coalesce(sum(l.units), 0) FROM billing_chargeline l JOIN billing_charge c ON c.id = l.charge_id
                WHERE c.status = 'active' AND c.date_of_service BETWEEN %(start)s AND %(end)s),
               (SELECT coalesce(sum(amount), 0) FROM billing_payment WHERE received_on BETWEEN %(start)s AND %(end)s),
               (SELECT coalesce(sum(total), 0) FROM billing_invoice WHERE status <> 'void' AND issued_on <= %(end)s)
               - (SELECT coalesce(sum(amount), 0) FROM billing_payment WHERE received_on <= %(end)s)"""),
    ("compliance", """
        SELECT count(*) FROM visits_visitnote n JOIN scheduling_appointment a ON a.id = n.appointment_id
        WHERE n.status <> 'signed' AND a.start < %(end)s::date + 1"""),
]


def hand_sql(start: date, end: date, seconds: dict | None = None) -> dict:
    """The dashboard's questions as hand-written SQL on Django's connection: one statement per group
    (each one's seconds into ``seconds`` when given)."""
    from django.db import connection

    answers = {}
    with connection.cursor() as cursor:
        for name, sql in HAND_SQL:
            (_, answers[name]), took = timed(lambda sql=sql: (cursor.execute(sql, {"start": start, "end": end}),
                                                              cursor.fetchall()))
            if seconds is not None:
                seconds[name] = took
    return answers


def load_summary():
    """``apps.reports.figures.summary``, or None when this branch has no reports app."""
    try:
        from apps.reports.figures import summary
    except ImportError:
        return None
    return summary


# ---------------------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="hipclinic-bench-"))
    print(f"Preparing database {database_name(args.database_url)} ...", flush=True)
    recreate_database(args.database_url)
    setup_django(args.database_url, var_dir)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    try:
        migrate()
        print(machine(), flush=True)
        counts, fill_time = timed(fill, args)
        print(f"Filled in {fill_time:.1f} s ({args.therapists} therapists): "
              + ", ".join(f"{count:,} {table.split('_', 1)[1]}" for table, count in counts.items()) + "\n",
              flush=True)

        summary = load_summary()
        if summary is None:
            print("apps.reports.figures not available: timing the hand-written SQL alone\n", flush=True)
        else:
            from apps.reports.services import refresh_figures

            done, took = timed(refresh_figures, full=True)
            print(f"Stored figures, full refresh (nightly): {took:.1f} s; {done.summary}")
            done, took = timed(refresh_figures)
            print(f"Stored figures, recent refresh (every 15 minutes): {took:.1f} s; {done.summary}\n", flush=True)
        today = date.today()
        for label, days in [("90 days", 90), ("a year (365 days)", 365)]:
            start, end = today - timedelta(days=days - 1), today
            seconds = {}
            answers = hand_sql(start, end, seconds)
            attendance = answers["attendance"][0]
            print(f"{label}: {start} to {end}; {args.repeat} timed runs each after one warm-up, taking turns")
            print(f"  (SQL answers: {attendance[0]:,} visits of {attendance[1]:,} scheduled, {attendance[2]:,} "
                  f"cancelled ({attendance[4]:,} late), {attendance[3]:,} no-show; outcomes "
                  + "; ".join(f"{m} {reached}/{followed} MCID, {missing} no follow-up"
                              for m, followed, reached, _, missing in answers["outcomes"]) + ")")
            functions = {"sql": lambda start=start, end=end: hand_sql(start, end)}
            if summary is not None:
                functions["summary"] = lambda start=start, end=end: summary(start=start, end=end)
                functions["live"] = lambda start=start, end=end: summary(start=start, end=end, stored=False)
                with CaptureQueriesContext(connection) as captured:
                    figures = summary(start=start, end=end)
                queries = len(captured)
                with CaptureQueriesContext(connection) as captured_live:
                    live = summary(start=start, end=end, stored=False)
                stamps = {"stored_through", "refreshed_at", "overdue_as_of"}
                same = {k: v for k, v in figures.items() if k not in stamps} == \
                    {k: v for k, v in live.items() if k not in stamps}
                print(f"  (summary(): {figures['visits']:,} visits of {figures['scheduled']:,} scheduled, "
                      f"{figures['cancelled']:,} cancelled ({figures['late_cancellations']:,} late), "
                      f"{figures['no_shows']:,} no-show; outcomes "
                      + "; ".join(f"{m} {f['reached_mcid']}/{f['with_follow_up']} MCID, {f['no_follow_up']} no "
                                  f"follow-up" for m, f in sorted(figures["outcomes"]["by_measure"].items()))
                      + f"; days up to {figures['stored_through']} from stored figures; every figure "
                      + ("equal to" if same else "DIFFERENT FROM") + " counting all days live)")
            times = Timings.interleaved(functions, repeat=args.repeat, warmup=1)
            line("  hand-written SQL", f"{times['sql'].ms()}  ({len(HAND_SQL)} statements)")
            line("    its slowest statements (one run)", ", ".join(
                f"{name} {took * 1000:.0f} ms" for name, took in sorted(seconds.items(), key=lambda i: -i[1])[:4]))
            if summary is not None:
                line("  summary(), stored days + today live", f"{times['summary'].ms()}  ({queries} queries)")
                slow = sorted(captured.captured_queries, key=lambda item: -float(item["time"]))[:3]
                line("    its slowest queries (one run)", "; ".join(
                    f"{float(item['time']) * 1000:.0f} ms {' '.join(item['sql'].split())[:60]}..." for item in slow))
                line("  summary(stored=False), every day live",
                     f"{times['live'].ms()}  ({len(captured_live)} queries)")
                line("  ratio (summary / SQL)", ratio(times["summary"].median, times["sql"].median))
                line("  ratio (every day live / SQL)", ratio(times["live"].median, times["sql"].median))
                line("  ratio (every day live / summary)", ratio(times["live"].median, times["summary"].median))
                slowest = times["summary"].median
            else:
                slowest = times["sql"].median
            if days == 365 and slowest > 1.0:
                print(f"  a year takes {slowest:.2f} s, over 1 s: the issue's budget for the dashboard is exceeded")
            print(flush=True)
    finally:
        connection.close()
        if not args.keep:
            drop_database(args.database_url)


if __name__ == "__main__":
    main()
