"""Anonymisation: the statistical skeleton a case leaves behind.

Kept: case type, year opened, year closed, the oldest subject child's age band
at opening, and the outcome if it is one of a fixed list of codes. Everything
else (identifiers, names, dates, free text) is destroyed with the case. The
skeleton's own id is random, so it cannot be linked back to the case.
"""

from __future__ import annotations

import uuid

from governance.retention.facts import CaseFacts

__all__ = ["skeleton_of", "OUTCOMES", "age_band"]

# Closure reasons kept verbatim; anything else becomes "other" (free text is dropped).
OUTCOMES = (
    "needs met", "family declined further support", "moved out of area", "stepped up to social care",
    "stepped down to universal services", "child turned 18", "adoption order granted",
)


def age_band(facts: CaseFacts) -> str:
    if facts.oldest_dob is None or facts.opened_on is None:
        return "unknown"
    years = (facts.opened_on - facts.oldest_dob).days // 365
    if years < 0:
        return "unborn"  # pre-birth assessment
    for upper, band in ((4, "0-4"), (9, "5-9"), (15, "10-15"), (17, "16-17")):
        if years <= upper:
            return band
    return "18+"


def skeleton_of(facts: CaseFacts) -> dict:
    outcome = (facts.closure_reason or "").strip().lower()
    return {
        "skeleton_id": str(uuid.uuid4()),
        "case_type": facts.case_type,
        "year_opened": facts.opened_on.year if facts.opened_on else None,
        "year_closed": facts.closed_on.year if facts.closed_on else None,
        "age_band": age_band(facts),
        "outcome": outcome if outcome in OUTCOMES else ("other" if outcome else None),
    }
