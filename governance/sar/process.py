"""One request's working set: discovery, the people around the subject, the redactions in force.

Every step (redaction, review, bundle) rebuilds the working set from the case
store and checks it against what discovery recorded: if a record's text
changed, or a record appeared or went, since discovery, the step stops and the
request must be searched again. So a bundle can only ever contain what was
found, redacted and reviewed. (Ledger entries and research studies are listed
as they stand when the bundle is made: the request's own entries add to them.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.sar import review as review_mod
from governance.sar.discovery import Discovery, discover, research_lookup
from governance.sar.people import KnownPeople, store_people
from governance.sar.redaction import Redaction, RedactionContext, redact_records
from governance.sar.register import RequestError, age_on, get_request
from governance.sar.tables import records, redactions, searches

__all__ = ["Workset", "build_workset", "save_discovery", "check_discovery", "save_redactions", "current_pack",
           "STORE_ENTITIES"]

# Entities read from the case store: what discovery must find again unchanged.
STORE_ENTITIES = ("person", "case", "casenote", "document", "consent", "sharing_record", "access_log")


@dataclass
class Workset:
    request: dict[str, Any]
    discovery: Discovery
    people: KnownPeople
    redactions: dict[tuple[str, str], list[Redaction]]
    awaiting_second_review: int

    def store_records(self) -> list[tuple[str, str, str]]:
        return sorted((r.entity, r.record_id, r.sha256()) for r in self.discovery.records if r.entity in STORE_ENTITIES)

    def flags(self) -> dict[str, int]:
        req, subject = self.request, self.discovery.subject
        docs = self.discovery.by_entity("document")
        flags = {
            "ambiguous_names": len(self.people.ambiguous_names),
            "documents_not_text": sum(1 for d in docs if d.meta.get("content") == "binary"),
            "documents_missing": sum(1 for d in docs if d.meta.get("content") == "missing"),
            "parent_request_child_objects": int(req.get("requester_kind") == "parent_carer" and req.get("child_view") == "objects"),
            "parent_request_child_12_or_over": 0,
        }
        dob = subject.get("date_of_birth")
        if req.get("requester_kind") == "parent_carer" and isinstance(dob, date) and age_on(dob, req["received_on"]) >= 12:
            flags["parent_request_child_12_or_over"] = 1  # 12 is a reasonable guide to competence (ICO)
        return flags


def build_workset(settings: Settings, conn: sa.Connection, request_id: str, *, store: Any, objects: Any,
                  ledger_engine: sa.Engine | None) -> Workset:
    request = get_request(conn, request_id)
    if request["store"] != store.name:
        raise RequestError(f"request {request_id} is for store {request['store']}, not {store.name}")
    found = discover(store, objects, request["subject_person_id"], ledger_engine=ledger_engine,
                     research=research_lookup(settings, store.name))
    people = KnownPeople(found.subject, found.people, found.professionals,
                         requester_person_id=request.get("requester_person_id"), others=store_people(store))
    reviewer, lifted, waiting = review_mod.reviewer_redactions(conn, request_id)
    result = redact_records(found.records, RedactionContext(people), reviewer=reviewer, lifted=lifted)
    return Workset(request, found, people, result, waiting)


def save_discovery(conn: sa.Connection, request_id: str, ws: Workset, at: datetime) -> None:
    """Record what was found (ids and text hashes) and the search log."""
    conn.execute(records.delete().where(records.c.request_id == request_id))
    rows = [{"request_id": request_id, "entity": e, "record_id": rid, "case_id": None, "text_sha256": h}
            for e, rid, h in ws.store_records()]
    cases = {(r.entity, r.record_id): r.case_id for r in ws.discovery.records}
    for row in rows:
        row["case_id"] = cases.get((row["entity"], row["record_id"]))
    if rows:
        conn.execute(records.insert(), rows)
    conn.execute(searches.delete().where(searches.c.request_id == request_id))
    conn.execute(searches.insert(), [
        {"request_id": request_id, "source": s.source, "target": s.target[:300], "criterion": s.criterion[:200],
         "found": s.found, "note": (s.note or None) and s.note[:200], "searched_at": at}
        for s in ws.discovery.searches
    ])


def check_discovery(conn: sa.Connection, request_id: str, ws: Workset) -> None:
    """Stop if the store's records differ from what discovery recorded."""
    query = sa.select(records.c.entity, records.c.record_id, records.c.text_sha256).where(records.c.request_id == request_id)
    recorded = sorted(tuple(r) for r in conn.execute(query))
    if not recorded:
        raise RequestError(f"request {request_id}: no discovery recorded yet; run discovery first")
    now = ws.store_records()
    if recorded != now:
        changed = len(set(recorded) ^ set(now))
        raise RequestError(f"request {request_id}: {changed} record version(s) differ from discovery; run discovery again")


def save_redactions(conn: sa.Connection, request_id: str, ws: Workset) -> None:
    """Record the automatic redactions (offsets, codes, rules; no text)."""
    conn.execute(redactions.delete().where(redactions.c.request_id == request_id))
    rows = [{"request_id": request_id, **r.to_row()} for items in ws.redactions.values() for r in items
            if r.source == "auto"]
    if rows:
        conn.execute(redactions.insert(), rows)


def current_pack(conn: sa.Connection, request_id: str, ws: Workset) -> dict[str, Any]:
    counts = {k: v for k, v in ws.discovery.counts().items()}
    return review_mod.build_pack(conn, request_id, records=ws.store_records(), counts=counts, result=ws.redactions,
                                 flags=ws.flags())
