"""Lower Extremity Functional Scale: 20 items 0-4, total 0-80, higher is better.

clinical-reference.md section 3 ("LEFS"; Binkley 1999). The official form is reprinted
with the APTA's permission, so we store item scores by number and ship only our own
short labels (``ITEM_LABELS``, ``SCALE_LABELS``), never the form's wording.
"""

from __future__ import annotations

from typing import Any

from apps.assessments.scoring import Score, item_positions, whole_number

# clinical-reference.md section 3: 20 items, each 0-4 (4 = no difficulty); total 0-80.
ITEM_COUNT = 20
ITEM_MIN = 0
ITEM_MAX = 4
TOTAL_MAX = ITEM_COUNT * ITEM_MAX
HIGHER_IS_BETTER = True

# Our own short labels, by item number (1-20), for screens and charts: not the form's text.
ITEM_LABELS: tuple[str, ...] = (
    "Usual work or chores",
    "Hobbies and sport",
    "In and out of the bath",
    "Moving about indoors",
    "Shoes and socks on",
    "Squatting down",
    "Lifting a bag from the floor",
    "Light housework",
    "Heavy housework",
    "In and out of a car",
    "A short walk outdoors",
    "A long walk outdoors",
    "A flight of stairs, up or down",
    "Standing for an hour",
    "Sitting for an hour",
    "Running on flat ground",
    "Running on rough ground",
    "Quick turns while running",
    "Hopping",
    "Turning over in bed",
)

# Our own words for the answer scale, by value.
SCALE_LABELS: dict[int, str] = {
    0: "Cannot do it, or only with great trouble",
    1: "A lot of trouble",
    2: "Some trouble",
    3: "Slight trouble",
    4: "No trouble",
}


def score(items: Any) -> Score:
    """The sum of the 20 items, only when all 20 are answered."""
    positions = item_positions(items, expected=ITEM_COUNT)
    answers = [
        whole_number(item, name=f"item {number}", low=ITEM_MIN, high=ITEM_MAX)
        for number, item in enumerate(positions, start=1)
        if item is not None
    ]
    missing = ITEM_COUNT - len(answers)
    if missing:
        # Section 3 gives no pro-rating rule for the LEFS: a gap leaves no total.
        note = f"{missing} of {ITEM_COUNT} items missing: no total"
        return Score(None, complete=False, answered=len(answers), expected=ITEM_COUNT, missing=missing, note=note)
    return Score(float(sum(answers)), complete=True, answered=ITEM_COUNT, expected=ITEM_COUNT, missing=0)

