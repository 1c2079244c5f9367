"""Patient-Specific Functional Scale: 1-5 activities the patient names, each 0-10, higher is better.

clinical-reference.md section 3 ("Patient-Specific Functional Scale"): the score is the
mean of the activity scores. Free to use; the labels are the patient's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from apps.assessments.scoring import Score, ScoringError, plural, round_half_up, whole_number

# clinical-reference.md section 3: "up to 3-5 patient-named activities", each 0 (cannot
# do it) to 10 (as well as before the problem).
MIN_ACTIVITIES = 1
MAX_ACTIVITIES = 5
ITEM_MIN = 0
ITEM_MAX = 10
HIGHER_IS_BETTER = True

SCALE_HINT = "0 = cannot do it at all, 10 = can do it as well as before the problem"


def activities(items: Any) -> list[tuple[str, int | None]]:
    """``items`` as checked (activity name, score or None) pairs, or ``ScoringError``."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ScoringError(f"items: expected a list of (activity, score) pairs, got {type(items).__name__}")
    if not MIN_ACTIVITIES <= len(items) <= MAX_ACTIVITIES:
        raise ScoringError(f"items: {len(items)} activities given: name {MIN_ACTIVITIES} to {MAX_ACTIVITIES}")
    checked = []
    for number, pair in enumerate(items, start=1):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ScoringError(f"activity {number}: expected an (activity, score) pair, got {pair!r}")
        name, value = pair
        if not isinstance(name, str) or not name.strip():
            raise ScoringError(f"activity {number}: the activity has no name")
        if value is not None:
            value = whole_number(value, name=f"activity {number} ({name.strip()})", low=ITEM_MIN, high=ITEM_MAX)
        checked.append((name.strip(), value))
    return checked


def score(items: Any) -> Score:
    """The mean of the scored activities, to 1 decimal; none scored, no score."""
    pairs = activities(items)
    answers = [value for _name, value in pairs if value is not None]
    expected, answered = len(pairs), len(answers)
    missing = expected - answered
    if not answers:
        note = f"No activity scored ({plural(expected, 'activity', 'activities')} named): no score"
        return Score(None, complete=False, answered=0, expected=expected, missing=missing, note=note)
    value = round_half_up(Fraction(sum(answers), answered))
    note = f"{missing} of {expected} activities not scored: mean of the {answered} scored" if missing else ""
    return Score(value, complete=not missing, answered=answered, expected=expected, missing=missing, note=note)
