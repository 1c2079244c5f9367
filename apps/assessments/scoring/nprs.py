"""Numeric pain rating scale, pain now: one whole number 0-10, lower is better.

clinical-reference.md section 3 ("NPRS pain"). The wording of the question is ours.
"""

from __future__ import annotations

from typing import Any

from apps.assessments.scoring import Score, item_positions, whole_number

# clinical-reference.md section 3: one item, a whole number 0 (no pain) to 10 (worst imaginable).
ITEM_COUNT = 1
ITEM_MIN = 0
ITEM_MAX = 10
HIGHER_IS_BETTER = False

QUESTION = "How bad is your pain right now, from 0 (none) to 10 (as bad as you can imagine)?"


def score(items: Any) -> Score:
    """The pain score is the one item; unanswered, there is no score."""
    (item,) = item_positions(items, expected=ITEM_COUNT)
    if item is None:
        return Score(None, complete=False, answered=0, expected=1, missing=1, note="Pain not rated: no score")
    value = whole_number(item, name="item 1", low=ITEM_MIN, high=ITEM_MAX)
    return Score(float(value), complete=True, answered=1, expected=1, missing=0)
