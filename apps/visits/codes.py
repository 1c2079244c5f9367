"""The code lists a plan of care and a visit note use (clinical-reference.md section 9).

Pure data and checks, no Django imports: the curated ICD-10-CM diagnoses a migration loads, the
pattern any other ICD-10-CM code must match, and the CPT procedure codes a note records
minutes against (timed codes in 15-minute units; evaluations untimed, one unit each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Letter (not U), two characters, then optionally a dot and one to four more: M16.11, G80.1,
# Z98.1, M62.81. The category's third character may be a letter (e.g. C4A).
ICD10CM_PATTERN = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")

# The codes the reference names for the causes hipclinic sees, in our own words.
CURATED_DIAGNOSES: list[tuple[str, str]] = [
    ("M16.0", "Primary osteoarthritis of both hips"),
    ("M16.10", "Primary osteoarthritis of one hip, side not specified"),
    ("M16.11", "Primary osteoarthritis of the right hip"),
    ("M16.12", "Primary osteoarthritis of the left hip"),
    ("M16.2", "Osteoarthritis of both hips from hip dysplasia"),
    ("G80.0", "Cerebral palsy, spastic quadriplegic"),
    ("G80.1", "Cerebral palsy, spastic diplegic"),
    ("G80.2", "Cerebral palsy, spastic hemiplegic"),
    ("G80.3", "Cerebral palsy, athetoid"),
    ("G80.4", "Cerebral palsy, ataxic"),
    ("G80.8", "Cerebral palsy, other"),
    ("G80.9", "Cerebral palsy, type not specified"),
    ("M62.81", "Muscle weakness, generalized"),
    ("Z98.1", "Arthrodesis (spinal fusion) status"),
    ("Z47.89", "Other orthopedic aftercare"),
]


def normalise_icd10(code: str) -> str:
    """Upper case, no spaces; a dot added after the third character when it was left out (M1611 -> M16.11)."""
    code = "".join(code.split()).upper()
    if len(code) > 3 and "." not in code:
        code = f"{code[:3]}.{code[3:]}"
    return code


def is_icd10cm(code: str) -> bool:
    return bool(ICD10CM_PATTERN.match(code))


ICD10CM_HELP = ("Not an ICD-10-CM code (a letter, two characters, then optionally a dot and up to four more, "
                "e.g. M16.11).")


@dataclass(frozen=True)
class Procedure:
    code: str
    label: str
    timed: bool  # timed codes are billed in 15-minute units (the 8-minute rule); untimed are one unit each


PROCEDURES: dict[str, Procedure] = {p.code: p for p in [
    Procedure("97161", "PT evaluation, low complexity", timed=False),
    Procedure("97162", "PT evaluation, moderate complexity", timed=False),
    Procedure("97163", "PT evaluation, high complexity", timed=False),
    Procedure("97164", "PT re-evaluation", timed=False),
    Procedure("97110", "Therapeutic exercise", timed=True),
    Procedure("97112", "Neuromuscular re-education", timed=True),
    Procedure("97116", "Gait training", timed=True),
    Procedure("97140", "Manual therapy", timed=True),
    Procedure("97530", "Therapeutic activities", timed=True),
    Procedure("97535", "Self-care / home management training", timed=True),
]}

# Other apps add the codes a clinic keeps (billing's table): ``register_procedure_source(fn)`` in their
# ``AppConfig.ready()``, ``fn() -> {code: Procedure}``, asked each time a note's minutes are checked.
_SOURCES: list = []


def register_procedure_source(source) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


def procedures() -> dict[str, Procedure]:
    """The codes a note may record minutes against: a registered source's (the clinic's table), else the defaults."""
    found: dict[str, Procedure] = {}
    for source in _SOURCES:
        found.update(source())
    return found or dict(PROCEDURES)


MAX_MINUTES_PER_CODE = 240  # four hours of one procedure in one visit is a typo, not a visit


def minutes_problems(rows: list[dict]) -> dict[int, str]:
    """{row index: message} for treatment-minute rows that are not a known code with 1-240 minutes, once each."""
    problems: dict[int, str] = {}
    seen: set[str] = set()
    known = procedures() if rows else {}
    for index, row in enumerate(rows):
        code, minutes = row.get("code"), row.get("minutes")
        if code not in known:
            problems[index] = f"{code!r} is not one of the procedure codes hipclinic records."
        elif code in seen:
            problems[index] = f"{code} is listed twice; add its minutes together."
        elif not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_MINUTES_PER_CODE:
            problems[index] = f"Minutes for {code} must be a whole number from 1 to {MAX_MINUTES_PER_CODE}."
        seen.add(code)
    return problems
