"""The demonstration study the main job runs through its whole life.

Early-help outcomes over the synthetic store: approved, running through 2026,
anonymised at its end. The quasi-identifiers are coarse enough (ten-year age
bands, top-coded at 20) that a store of a couple of hundred generated families
passes k = 10; a much smaller store is withheld, which the main job also shows.
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["DEMO_STUDY_ID", "demo_spec", "DEMO_BUILD_ON", "DEMO_END_ON"]

DEMO_STUDY_ID = "DEMO-EH-2026"
#: The day the main job builds the extract (the generator's default as-of date) ...
DEMO_BUILD_ON = date(2026, 6, 30)
#: ... and the day it runs the end action (after the study's end date).
DEMO_END_ON = date(2027, 1, 1)


def demo_spec(store: str = "default") -> dict[str, Any]:
    return {
        "id": DEMO_STUDY_ID,
        "title": "Early help: repeat referrals after closure (demonstration)",
        "purpose": "Estimate how often families return to children's services after early help closes",
        "approver": "Information governance board (demonstration)",
        "approved_on": "2026-01-15",
        "recipient": "Example University (fictional)",
        "start": "2026-02-01",
        "end": "2026-12-31",
        "end_action": "anonymise",
        "exclude_opted_out": True,
        "opt_out_scope": "family",
        "intruder_assessment": "demonstration only: fictional data, no assessment needed",
        "extract": {
            "store": store,
            "population": ["subject_child"],
            "fields": ["person_id", "family_id", "case_id", "date_of_birth", "case_type", "opened_on", "closed_on",
                       "child_protection_concerns", "casenote_count", "closure_reason"],
            "quasi_identifiers": ["date_of_birth"],
            "sensitive": ["case_type"],
            "k": 10,
            "l": 2,
            "generalise": {"date_of_birth": "age_band:10:20", "opened_on": "month", "closed_on": "month"},
            "tables": [{"name": "episodes_by_type", "by": ["case_type", "date_of_birth"]}],
        },
    }
