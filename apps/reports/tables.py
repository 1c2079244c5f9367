"""The summary laid out as tables: one per group of figures, the same rows on the page and in each CSV.

A flat table has a row per figure (its name, label, value and one-line definition); the outcome
tables have a row per measure (and per referral cause). Values are those ``figures.summary``
returns, untouched: the page formats them, the CSV writes them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.assessments.models import MeasureKind
from apps.patients.vocabulary import REFERRAL_CAUSES
from apps.reports.figures import DEFINITIONS, NO_CAUSE

# Figures without a definition of their own: the count behind a rate, in one line.
PART_DEFINITIONS = {
    "cancelled": "Cancelled appointments starting in the range.",
    "no_shows": "No-show appointments starting in the range.",
    "late_cancellation_hours": "The clinic's late-cancellation window, in hours (clinic policy).",
    "rebooked_visits": "Completed visits in the range with a later appointment already booked.",
    "finished_episodes": "Plans of care discharged in the range.",
    "booked_minutes": "Minutes of booked, checked-in and completed appointments starting in the range.",
    "working_minutes": "Working minutes of the weekly rota over the range, less time off.",
    "sessions_logged": "Sessions logged on days in the range, of the programs counted for adherence.",
    "sessions_prescribed": "Sessions prescribed in the range, of the programs counted for adherence.",
    "active_programs": "Active programs whose planned weeks include the range's last day.",
    "quiet_programs": "Of those, programs with no session logged in the range's last 7 days.",
    "charges": "Active (not void) charges with a date of service in the range.",
    "units": "Billing units on those charges.",
}

# Which figures are shares (shown as per cent) and which are money.
SHARES = {"conversion", "cancellation_rate", "no_show_rate", "cancellation_and_no_show_rate", "rebook_rate",
          "utilisation", "adherence", "quiet_programs_share", "share_reaching_mcid"}
MONEY = {"charges_total", "payments_total", "outstanding_balance"}

GROUPS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "referrals": ("Referrals", [
        ("new_referrals", "New referrals"), ("first_evaluations", "First evaluations"),
        ("conversion", "Referral-to-evaluation conversion")]),
    "attendance": ("Attendance", [
        ("visits", "Visits"), ("scheduled", "Scheduled (outcome known)"), ("cancelled", "Cancelled"),
        ("no_shows", "No-shows"), ("cancellation_rate", "Cancellation rate"), ("no_show_rate", "No-show rate"),
        ("cancellation_and_no_show_rate", "Cancellation and no-show rate"),
        ("late_cancellations", "Late cancellations"), ("late_cancellation_hours", "Late-cancellation window (h)"),
        ("rebooked_visits", "Rebooked visits"), ("rebook_rate", "Rebook rate")]),
    "episodes": ("Episodes of care", [
        ("finished_episodes", "Finished episodes"), ("visits_per_finished_episode", "Visits per finished episode")]),
    "utilisation": ("Therapist utilisation", [
        ("booked_minutes", "Booked minutes"), ("working_minutes", "Working minutes"), ("utilisation", "Utilisation")]),
    "adherence": ("Home-program adherence", [
        ("sessions_logged", "Sessions logged"), ("sessions_prescribed", "Sessions prescribed"),
        ("adherence", "Adherence"), ("active_programs", "Active programs"), ("quiet_programs", "Quiet programs"),
        ("quiet_programs_share", "Share of active programs with no log for 7 days")]),
    "billing": ("Billing", [
        ("charges_total", "Charges"), ("charges", "Charged visits"), ("units", "Units"),
        ("units_per_visit", "Units per visit"), ("payments_total", "Payments"),
        ("outstanding_balance", "Outstanding balance")]),
    "compliance": ("Compliance", [
        ("overdue_progress_reports", "Overdue progress reports"),
        ("overdue_recertifications", "Overdue re-certifications"), ("unsigned_notes", "Unsigned notes")]),
}

OUTCOME_COLUMNS = [("patients", "Patients"), ("with_follow_up", "With a follow-up score"),
                   ("no_follow_up", "No follow-up score"), ("reached_mcid", "Reached the MCID"),
                   ("share_reaching_mcid", "Share reaching the MCID"), ("median_change", "Median change")]
FLAT_COLUMNS = ["figure", "label", "value", "definition"]
TABLE_NAMES = [*GROUPS, "outcomes_by_measure", "outcomes_by_cause"]


@dataclass(frozen=True)
class Cell:
    key: str      # the figure's (or column's) name
    value: object


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    columns: list[str]          # CSV header
    headings: list[str]         # what the page shows above each column
    rows: list[list[Cell]]
    definition: str = ""


def definition(key: str) -> str:
    return DEFINITIONS.get(key) or PART_DEFINITIONS[key]


def cause_label(cause: str) -> str:
    return "No referral linked" if cause == NO_CAUSE else REFERRAL_CAUSES.get(cause, cause)


def _flat(name: str, found: dict) -> Table:
    title, figures = GROUPS[name]
    rows = [[Cell("figure", key), Cell("label", label), Cell(key, found[key]), Cell("definition", definition(key))]
            for key, label in figures]
    return Table(name, title, FLAT_COLUMNS, ["Figure", "Value", "Definition"], rows)


def _outcome_cells(figures: dict) -> list[Cell]:
    return [Cell(key, figures[key]) for key, _ in OUTCOME_COLUMNS]


def build(found: dict) -> dict[str, Table]:
    """Every table of a ``figures.summary`` result, by name, in TABLE_NAMES' order."""
    tables = {name: _flat(name, found) for name in GROUPS}
    labels = dict(MeasureKind.choices)
    by_measure = found["outcomes"]["by_measure"]
    tables["outcomes_by_measure"] = Table(
        "outcomes_by_measure", "Outcomes per measure", ["measure", *[key for key, _ in OUTCOME_COLUMNS]],
        ["Measure", *[heading for _, heading in OUTCOME_COLUMNS]],
        [[Cell("measure", labels[measure]), *_outcome_cells(by_measure[measure])] for measure in by_measure],
        definition=DEFINITIONS["outcomes"])
    tables["outcomes_by_cause"] = Table(
        "outcomes_by_cause", "Outcomes per referral cause",
        ["cause", "measure", *[key for key, _ in OUTCOME_COLUMNS]],
        ["Referral cause", "Measure", *[heading for _, heading in OUTCOME_COLUMNS]],
        [[Cell("cause", cause_label(cause)), Cell("measure", labels[measure]), *_outcome_cells(figures)]
         for cause, measures in found["outcomes"]["by_cause"].items() for measure, figures in measures.items()],
        definition=DEFINITIONS["outcomes"])
    return tables


def csv_rows(table: Table) -> list[list]:
    return [[cell.value for cell in row] for row in table.rows]


def charts(found: dict) -> dict:
    """The data the page's charts draw (the same values as the tables beside them)."""
    labels = dict(MeasureKind.choices)
    by_measure = found["outcomes"]["by_measure"]
    attendance = [("cancellation_rate", "Cancellation"), ("no_show_rate", "No-show"),
                  ("cancellation_and_no_show_rate", "Cancellation and no-show"), ("rebook_rate", "Rebook")]
    return {
        "outcomes": {"labels": [labels[m] for m in by_measure],
                     "values": [by_measure[m]["share_reaching_mcid"] for m in by_measure]},
        "attendance": {"labels": [label for _, label in attendance],
                       "values": [found[key] for key, _ in attendance]},
    }
