"""Oswestry Disability Index v2.1a: 10 sections 0-5, a percentage 0-100, lower is better.

clinical-reference.md section 3 ("Oswestry Disability Index v2.1a"). The form is licensed
through the Mapi Research Trust: we ship the scoring only, no section text; the clinic
supplies its own licensed form and enters each section's score (or the boxes ticked).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from apps.assessments.scoring import Score, item_positions, plural, round_half_up, whole_number

# clinical-reference.md section 3: 10 sections, each scored 0-5.
SECTION_COUNT = 10
SECTION_MIN = 0
SECTION_MAX = 5
HIGHER_IS_BETTER = False

# Fewest answered sections that still give a score. Clinic-editable default: section 3
# scores over the sections answered but sets no floor; 8 of 10 is our default.
MIN_SECTIONS = 8


def section_score(section: Any, number: int) -> int | None:
    """One section's score: a number, None (unanswered) or the boxes ticked.

    Section 3: when more than one box is ticked, the highest counts. No box ticked
    (an empty list) is an unanswered section.
    """
    if section is None:
        return None
    if isinstance(section, list | tuple | set | frozenset):
        boxes = [
            whole_number(box, name=f"section {number} (ticked boxes)", low=SECTION_MIN, high=SECTION_MAX)
            for box in section
        ]
        return max(boxes, default=None)
    return whole_number(section, name=f"section {number}", low=SECTION_MIN, high=SECTION_MAX)


def score(items: Any) -> Score:
    """sum / (5 x sections answered) x 100, to 1 decimal, when at least ``MIN_SECTIONS`` are answered."""
    positions = item_positions(items, expected=SECTION_COUNT, noun="section")
    answers = [s for s in (section_score(item, n) for n, item in enumerate(positions, start=1)) if s is not None]
    answered = len(answers)
    missing = SECTION_COUNT - answered
    if answered < MIN_SECTIONS:
        note = f"{missing} of {SECTION_COUNT} sections missing: no score (needs at least {MIN_SECTIONS} answered)"
        return Score(None, complete=False, answered=answered, expected=SECTION_COUNT, missing=missing, note=note)
    value = round_half_up(Fraction(sum(answers) * 100, SECTION_MAX * answered))
    note = f"{missing} of {SECTION_COUNT} sections missing: scored over the {plural(answered, 'section')} answered"
    return Score(
        value, complete=not missing, answered=answered, expected=SECTION_COUNT, missing=missing,
        note=note if missing else "",
    )
