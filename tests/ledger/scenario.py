"""Hand-written ledger events in the shape the platform records them: identifiers and counts only.

The cases are fictional: an early-help case closed in 2019 (Camden leaflet: no
longer than 5 years after closure), a children-in-need case, a subject access
request answered, a share with health recorded without consent (significant harm).
"""

from __future__ import annotations

from typing import Any

EVENTS: list[dict[str, Any]] = [
    {"actor": "retention-job", "action": "retention.destroy.intent", "rule": "EH-5Y-after-closure",
     "store": "early-help", "record_ids": ["EH-2019-0412"], "counts": {"cases": 1, "casenotes": 23},
     "details": {"batch_id": "B-2025-03-01", "chunk": 1}},
    {"actor": "retention-job", "action": "retention.destroyed", "rule": "EH-5Y-after-closure",
     "store": "early-help", "record_ids": ["EH-2019-0412"], "counts": {"cases": 1, "casenotes": 23, "documents": 2},
     "details": {"batch_id": "B-2025-03-01", "method": "purge"}},
    {"actor": "records-mgmt:j.okafor", "action": "sar.disclosed", "reason": "response within one month",
     "store": "social-care", "record_ids": ["SAR-2025-0031"], "counts": {"pages": 112, "redactions": 41},
     "details": {"exemptions": ["Sch2-P3-16", "Sch3-P3-11"]}},
    {"actor": "sw:team-north", "action": "sharing.recorded", "reason": "significant harm: consent not sought",
     "store": "social-care", "record_ids": ["CIN-2024-1187"], "counts": {"items": 3},
     "details": {"recipient": "health", "lawful_basis": "Children Act 1989 s47", "family_informed": False}},
    {"actor": "retention-job", "action": "retention.anonymised", "rule": "CIN-18+3Y-inactive",
     "store": "social-care", "record_ids": ["CIN-2006-0077"], "counts": {"cases": 1},
     "details": {"batch_id": "B-2025-03-01", "method": "anonymise"}},
]


def events(n: int) -> list[dict[str, Any]]:
    """``n`` events cycling through the scenarios, each naming its own case."""
    out = []
    for i in range(n):
        event = dict(EVENTS[i % len(EVENTS)])
        event["record_ids"] = [f"{rid}-{i:03d}" for rid in event["record_ids"]]
        out.append(event)
    return out
