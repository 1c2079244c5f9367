"""Safety rules for activating a home program (clinical-reference.md sections 6 and 7).

Pure: plain values in, problems out. ``services.py`` builds the facts of a program and its
items before anything is written (activation, and every edit of an active program), so
the admin, the API and the progression engine all obey the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

# Section 6: "require documented surgeon clearance before resisted or loaded exercises
# within 6 weeks of the surgery date (clinic-editable)": the clinic's policy passes its own.
TRANSPSOAS_CLEARANCE_WEEKS = 6


@dataclass(frozen=True)
class ItemFacts:
    position: int               # 1-based, as the therapist sees the list
    exercise: str               # name, for messages
    loaded_or_resisted: bool
    caution: str = ""           # the exercise's caution for this patient's referral cause
    caution_acknowledged: bool = False


@dataclass(frozen=True)
class ProgramFacts:
    red_flag_unresolved: bool
    referral_cause: str | None
    surgery_date: date | None
    start_date: date
    surgeon_clearance: bool
    items: list[ItemFacts] = field(default_factory=list)
    clearance_weeks: int = TRANSPSOAS_CLEARANCE_WEEKS


def within_surgery_window(facts: ProgramFacts) -> bool:
    if facts.referral_cause != "transpsoas_surgery":
        return False
    if facts.surgery_date is None:
        return True  # surgery date unknown: be cautious
    return facts.start_date < facts.surgery_date + timedelta(weeks=facts.clearance_weeks)


def activation_problems(facts: ProgramFacts) -> dict[str, list[str]]:
    """Why this program may not be active, by field ("status", "items"); empty when it may."""
    problems: dict[str, list[str]] = {}
    if facts.red_flag_unresolved:
        problems.setdefault("status", []).append(
            "The referral's red-flag screen is positive and no therapist has cleared it (no decision yet, "
            "or a decision to refer on): a program cannot be activated."
        )
    if within_surgery_window(facts) and not facts.surgeon_clearance:
        loaded = [item for item in facts.items if item.loaded_or_resisted]
        for item in loaded:
            problems.setdefault("items", []).append(
                f"Item {item.position} ({item.exercise}) is loaded or resisted within "
                f"{facts.clearance_weeks} weeks of lateral transpsoas surgery: record the surgeon's clearance "
                "on the program first."
            )
    for item in facts.items:
        if item.caution and not item.caution_acknowledged:
            problems.setdefault("items", []).append(
                f"Item {item.position} ({item.exercise}): acknowledge the caution for this referral — {item.caution}"
            )
    return problems
