"""The clinic's numbers equal the same questions asked by hand of the rows, in a fixed number of queries."""

import statistics
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.assessments.models import Assessment, OutcomeMeasure
from apps.assessments.scoring.change import change
from apps.billing.models import Charge, ChargeLine, Invoice, Payer, Payment
from apps.followups.models import SessionLog
from apps.ops.policy import clinic_policy
from apps.patients.models import Referral
from apps.prescriptions.models import Program
from apps.reports import figures
from apps.scheduling.models import Appointment, AppointmentStatusChange, TimeOff, WorkingHours
from apps.visits.models import PlanOfCare, VisitNote
from hipclinic.zones import clinic_today, clinic_zone
from tests.factories import AppointmentFactory, PatientFactory, ProgramFactory, TherapistFactory, UserFactory

CAUSES = ["hip_osteoarthritis", "prolonged_sitting", "transpsoas_surgery"]
STATUSES = ["completed", "completed", "cancelled", "no_show", "completed", "cancelled", "booked"]


@pytest.fixture
def period():
    end = clinic_today() - timedelta(days=2)
    return end - timedelta(days=59), end


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=clinic_zone()).astimezone(UTC)


def build(copies: int, start: date, end: date) -> list:
    """``copies`` small clinics' worth of rows over the range (and a little before and after it), each with
    its own two therapists (so no two appointments overlap), with time off for the first; returns them."""
    everyone = []
    desk = UserFactory(role="front_desk")
    payer = Payer.objects.get(kind="self_pay")
    made_before = Invoice.objects.count()  # one per patient: numbers and keys stay unique on a second call
    for copy in range(copies):
        therapists = [TherapistFactory(), TherapistFactory()]
        everyone += therapists
        TimeOff.objects.create(therapist=therapists[0], start=at(start + timedelta(days=10 + copy), 8),
                               end=at(start + timedelta(days=12 + copy), 13))
        for i in range(6):
            n = made_before + copy * 6 + i
            rota = therapists[i % 2]
            patient = PatientFactory()
            referred = start + timedelta(days=(n * 7) % 70 - 5)  # some before the range
            referral = Referral.objects.create(patient=patient, cause=CAUSES[i % 3], referral_date=referred,
                                               surgery_date=referred - timedelta(days=30))
            if i % 3 != 2:
                Assessment.objects.create(patient=patient, therapist=rota.user,
                                          assessed_on=min(referred + timedelta(days=3 + i), end + timedelta(days=1)))
            visits = []
            for k, status in enumerate(STATUSES):
                day = start + timedelta(days=(n * 3 + k * 8) % 64)  # a few after the range
                appointment = AppointmentFactory(patient=patient, therapist=therapists[(i + k) % 2],
                                                 start=at(day, 9 + k % 6), status=status, booked_by=desk)
                appointment.start = at(day, 9 + k % 6)
                made = appointment.start - timedelta(days=[1, 10, 30][k % 3])  # some booked too late to count
                Appointment.objects.filter(pk=appointment.pk).update(created_at=made)
                if status == "cancelled":
                    change = AppointmentStatusChange.objects.create(appointment=appointment, from_status="booked",
                                                                    to_status="cancelled")
                    before = timedelta(hours=3) if (n + k) % 2 else timedelta(days=3)
                    AppointmentStatusChange.objects.filter(pk=change.pk).update(changed_at=appointment.start - before)
                if status == "completed":
                    visits.append(appointment)
            discharged = i % 2 == 0
            plan = PlanOfCare.objects.create(
                patient=patient, referral=referral if i != 4 else None, therapist=rota.user, visits_per_week=2,
                duration_weeks=8, started_on=start - timedelta(days=5), created_by=rota.user,
                status="discharged" if discharged else "open",
                discharged_on=end - timedelta(days=i) if discharged else None)
            first_day = max(referred, start - timedelta(days=5))
            OutcomeMeasure.objects.create(patient=patient, measure="nprs", items=[7 + i % 3], recorded_on=first_day)
            if i != 2:
                OutcomeMeasure.objects.create(patient=patient, measure="nprs", items=[[5, 3, 8, 6, 4, 1][i]],
                                              recorded_on=end - timedelta(days=10))
            OutcomeMeasure.objects.create(patient=patient, measure="odi", items=[2] * 10, recorded_on=first_day)
            program = ProgramFactory(patient=patient, therapist=rota.user, active=True)
            Program.objects.filter(pk=program.pk).update(start_date=start + timedelta(days=i * 9 - 10),
                                                         weeks=4 + i, sessions_per_week=2 + i % 3)
            for s in range(i * 2):
                SessionLog.objects.create(program=program, session_date=start + timedelta(days=i * 9 + s * 3),
                                          submission_key=f"k-{n}-{s}")
            for v, visit in enumerate(visits):
                note = VisitNote.objects.create(appointment=visit, patient=patient, plan_of_care=plan,
                                                author=visit.therapist.user)
                charge = Charge.objects.create(
                    note=note, patient=patient, therapist=visit.therapist.user, payer=payer,
                    date_of_service=visit.start.astimezone(clinic_zone()).date(), units_rule="cms_total_time",
                    currency="USD", total=Decimal("80.00") + v, status="void" if v == 2 else "active")
                ChargeLine.objects.create(charge=charge, code="97110", description="Exercise", units=1 + v % 2,
                                          unit_price=Decimal("40.00"), amount=Decimal("40.00"))
            Invoice.objects.create(number=f"INV-{n}", patient=patient, issued_on=start + timedelta(days=n % 50),
                                   period_start=start, period_end=end, currency="USD", total=Decimal("100.00"),
                                   status="void" if i == 5 else "open", created_by=desk)
            Payment.objects.create(patient=patient, amount=Decimal("30.00") + i, currency="USD", method="card",
                                   received_on=start + timedelta(days=(n * 11) % 75), recorded_by=desk)
    return everyone


def local_day(moment: datetime) -> date:
    return moment.astimezone(clinic_zone()).date()


def by_hand(start: date, end: date, therapist=None, cause=None) -> dict:
    """The same questions answered by walking every row in Python."""
    inside = lambda day: day is not None and start <= day <= end  # noqa: E731

    def patient_ok(patient_id):
        if therapist is not None and not any(a.patient_id == patient_id and a.therapist.user_id == therapist
                                             for a in all_appointments):
            return False
        return not cause or any(r.patient_id == patient_id and r.cause == cause for r in Referral.objects.all())

    all_appointments = list(Appointment.objects.select_related("therapist"))
    appointments = [a for a in all_appointments if inside(local_day(a.start))
                    and (therapist is None or a.therapist.user_id == therapist) and patient_ok(a.patient_id)]
    referrals = [r for r in Referral.objects.all() if inside(r.referral_date) and patient_ok(r.patient_id)
                 and (not cause or r.cause == cause)]
    assessments = list(Assessment.objects.all())
    converted = [r for r in referrals if any(a.patient_id == r.patient_id and r.referral_date <= a.assessed_on <= end
                                             for a in assessments)]
    firsts = {}
    for a in assessments:
        firsts[a.patient_id] = min(firsts.get(a.patient_id, a.assessed_on), a.assessed_on)
    completed = [a for a in appointments if a.status == "completed"]
    scheduled = [a for a in appointments if a.status in ("completed", "cancelled", "no_show")]
    cancelled = [a for a in appointments if a.status == "cancelled"]
    no_show = [a for a in appointments if a.status == "no_show"]
    late = [a for a in cancelled if any(c.to_status == "cancelled" and c.changed_at > a.start - timedelta(hours=24)
                                        for c in a.status_changes.all())]
    rebooked = [v for v in completed if any(o.patient_id == v.patient_id and o.start > v.start
                                            and o.created_at <= v.end and o.pk != v.pk for o in all_appointments)]
    plans = [p for p in PlanOfCare.objects.select_related("referral") if p.status == "discharged"
             and inside(p.discharged_on) and (therapist is None or p.therapist_id == therapist)
             and (not cause or (p.referral and p.referral.cause == cause))]
    episode_visits = sum(1 for p in plans for a in all_appointments if a.patient_id == p.patient_id
                         and a.status == "completed" and p.started_on <= local_day(a.start) <= p.discharged_on)
    nprs = []
    for p in plans:
        since = p.referral.referral_date if p.referral else p.started_on
        scores = sorted((m.recorded_on, m.pk, m.score) for m in OutcomeMeasure.objects.filter(
            patient_id=p.patient_id, measure="nprs") if since <= m.recorded_on <= p.discharged_on)
        if scores:
            nprs.append(change("nprs", scores[0][2], scores[-1][2]) if len(scores) > 1 else None)
    scored = [c for c in nprs if c]
    charges = [c for c in Charge.objects.all() if c.status == "active" and inside(c.date_of_service)
               and (therapist is None or c.therapist_id == therapist) and patient_ok(c.patient_id)]
    units = sum(line.units for c in charges for line in c.lines.all())
    payments = [p for p in Payment.objects.all() if patient_ok(p.patient_id)]
    invoiced = sum(i.total for i in Invoice.objects.all() if i.status != "void" and i.issued_on <= end
                   and patient_ok(i.patient_id))
    logged = prescribed = 0
    for program in Program.objects.filter(status__in=["active", "paused", "completed"]):
        if not patient_ok(program.patient_id) or (therapist is not None and program.therapist_id != therapist):
            continue
        days = [program.start_date + timedelta(days=d) for d in range(program.weeks * 7)]
        days_inside = [d for d in days if inside(d)]
        prescribed += program.sessions_per_week * len(days_inside) / 7
        logged += sum(1 for log in program.session_logs.all() if inside(log.session_date))
    rate = figures.rate
    return {
        "new_referrals": len(referrals), "conversion": rate(len(converted), len(referrals)),
        "first_evaluations": sum(1 for patient_id, day in firsts.items() if inside(day) and patient_ok(patient_id)),
        "visits": len(completed), "scheduled": len(scheduled),
        "cancellation_rate": rate(len(cancelled), len(scheduled)), "no_show_rate": rate(len(no_show), len(scheduled)),
        "cancellation_and_no_show_rate": rate(len(cancelled) + len(no_show), len(scheduled)),
        "late_cancellations": len(late), "rebook_rate": rate(len(rebooked), len(completed)),
        "visits_per_finished_episode": rate(episode_visits, len(plans)),
        "nprs": {"patients": len(nprs), "no_follow_up": nprs.count(None),
                 "share_reaching_mcid": rate(sum(c.mcid_reached for c in scored), len(scored)),
                 "median_change": statistics.median(c.delta for c in scored) if scored else None},
        "charges_total": sum((c.total for c in charges), Decimal("0.00")),
        "units_per_visit": rate(units, len(charges)),
        "payments_total": sum((p.amount for p in payments if inside(p.received_on)), Decimal("0.00")),
        "outstanding_balance": invoiced - sum((p.amount for p in payments if p.received_on <= end), Decimal("0")),
        "adherence": rate(logged, prescribed),
    }


def working_minutes_by_hand(start: date, end: date, therapist_ids) -> int:
    """Day by day, block by block, less the time off that falls inside each block."""
    total = 0.0
    day = start
    while day <= end:
        for block in WorkingHours.objects.filter(therapist_id__in=therapist_ids, weekday=day.weekday()):
            block_start = datetime.combine(day, block.start_time, tzinfo=clinic_zone())
            block_end = datetime.combine(day, block.end_time, tzinfo=clinic_zone())
            minutes = (block_end - block_start).total_seconds() / 60
            for off in TimeOff.objects.filter(therapist_id=block.therapist_id):
                minutes -= max((min(block_end, off.end) - max(block_start, off.start)).total_seconds() / 60, 0)
            total += minutes
        day += timedelta(days=1)
    return round(total)


def compare(found: dict, expected: dict) -> None:
    nprs = expected.pop("nprs")
    assert {name: found[name] for name in expected} == expected
    assert {name: found["outcomes"]["by_measure"]["nprs"][name] for name in nprs} == nprs


def test_figures_equal_the_same_questions_asked_by_hand(db, period):
    start, end = period
    therapists = build(2, start, end)
    found = figures.summary(start=start, end=end)
    expected = by_hand(start, end)
    compare(found, expected)
    # The clinic is not empty: every comparison above compares something.
    assert found["visits"] and found["late_cancellations"] and 0 < found["rebooked_visits"] < found["visits"]
    assert found["outcomes"]["by_measure"]["nprs"]["no_follow_up"] == 2
    assert found["outcomes"]["by_measure"]["odi"] == {
        "patients": 6, "with_follow_up": 0, "no_follow_up": 6, "reached_mcid": 0, "share_reaching_mcid": None,
        "median_change": None}
    assert found["working_minutes"] == working_minutes_by_hand(start, end, [t.pk for t in therapists])


def test_filtered_figures_equal_the_filtered_questions_asked_by_hand(db, period):
    start, end = period
    therapists = build(2, start, end)
    user_id = therapists[0].user_id
    compare(figures.summary(start=start, end=end, therapist=user_id), by_hand(start, end, therapist=user_id))
    compare(figures.summary(start=start, end=end, cause="prolonged_sitting"),
            by_hand(start, end, cause="prolonged_sitting"))
    found = figures.summary(start=start, end=end, therapist=user_id)
    assert found["working_minutes"] == working_minutes_by_hand(start, end, [therapists[0].pk])


def test_outcomes_are_split_by_referral_cause_and_plans_without_one_are_shown(db, period):
    start, end = period
    build(1, start, end)
    by_cause = figures.summary(start=start, end=end)["outcomes"]["by_cause"]
    assert set(by_cause) == {"hip_osteoarthritis", "transpsoas_surgery", figures.NO_CAUSE}
    assert sum(row["nprs"]["patients"] for row in by_cause.values()) == 3


def test_the_query_count_does_not_grow_with_the_data(db, period, django_assert_num_queries):
    start, end = period
    build(1, start, end)
    clinic_policy()  # read once per unit of work: not part of what is counted
    with CaptureQueriesContext(connection) as small:
        figures.summary(start=start, end=end)
    build(3, start, end)
    with django_assert_num_queries(len(small.captured_queries)):
        figures.summary(start=start, end=end)


@pytest.mark.parametrize(("arguments", "field"), [
    ({"start": date(2026, 3, 1), "end": date(2026, 2, 1)}, "end"),
    ({"start": date(2020, 1, 1), "end": date(2024, 1, 1)}, "end"),
    ({"start": None, "end": date(2024, 1, 1)}, "start"),
    ({"start": date(2026, 1, 1), "end": date(2026, 2, 1), "cause": "hamstrings"}, "cause"),
    ({"start": date(2026, 1, 1), "end": date(2026, 2, 1), "therapist": 999999}, "therapist"),
])
def test_bad_input_is_refused_with_a_message_for_its_field(db, arguments, field):
    with pytest.raises(ValidationError) as refused:
        figures.summary(**arguments)
    assert set(refused.value.message_dict) == {field}


def test_a_user_who_is_not_a_therapist_is_refused_as_a_filter(db):
    desk = UserFactory(role="front_desk")
    with pytest.raises(ValidationError) as refused:
        figures.summary(start=date(2026, 1, 1), end=date(2026, 1, 31), therapist=desk.pk)
    assert "therapist" in refused.value.message_dict


def test_compliance_figures_equal_the_plans_and_notes_counted_one_by_one(db, period):
    """Overdue reports and re-certifications as the clock says of each plan on its own (the chart's
    per-plan path), and unsigned notes as drafts older than the clinic's limit."""
    from apps.visits.models import Certification
    from apps.visits.selectors import due_for_plan

    start, end = period
    therapists = build(2, start, end)
    policy = clinic_policy()
    policy.plan_of_care_clock, policy.progress_report_every_visits, policy.recertification_days = True, 2, 30
    policy.unsigned_note_hours = 48
    policy.save()
    open_plans = list(PlanOfCare.objects.filter(status="open"))
    for plan in open_plans[::2]:
        Certification.objects.create(plan=plan, signed_on=start, clinician="Dr Lee", recorded_by=plan.therapist)
    now = datetime.now(UTC)
    drafts = list(VisitNote.objects.filter(status="draft"))
    for days_ago, note in zip([1, 3, 5, 0, 2], drafts, strict=False):
        VisitNote.objects.filter(pk=note.pk).update(created_at=now - timedelta(days=days_ago, minutes=1))

    def by_hand(therapist=None):
        plans = [p for p in open_plans if therapist is None or p.therapist_id == therapist]
        overdue = {what: sum(1 for p in plans if any(d.what == what and d.overdue for d in due_for_plan(p)))
                   for what in ("progress_report", "recertification")}
        late = [n for n in VisitNote.objects.filter(status="draft") if n.created_at <= now - timedelta(hours=48)
                and (therapist is None or n.author_id == therapist)]
        return {"overdue_progress_reports": overdue["progress_report"],
                "overdue_recertifications": overdue["recertification"], "unsigned_notes": len(late)}

    for therapist in [None, therapists[0].user_id]:
        found = figures.summary(start=start, end=end, therapist=therapist, now=now)
        assert {name: found[name] for name in by_hand()} == by_hand(therapist)
    whole = figures.summary(start=start, end=end, now=now)
    assert whole["overdue_recertifications"] == len(open_plans[::2]) and whole["overdue_progress_reports"]
    assert whole["unsigned_notes"] == 3
