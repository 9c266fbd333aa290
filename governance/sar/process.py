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
from governance.sar.people import KnownPeople, request_people
from governance.sar.redaction import Redaction, RedactionContext, redact_records
from governance.sar.register import RequestError, age_on, get_request
from governance.sar.tables import records, redactions, searches

__all__ = ["Workset", "build_workset", "save_discovery", "check_discovery", "save_redactions", "current_pack",
           "recorded_case_ids", "dates_of_birth", "redact_again", "STORE_ENTITIES"]

# Entities read from the case store: what discovery must find again unchanged.
STORE_ENTITIES = ("person", "case", "casenote", "document", "consent", "sharing_record", "access_log")
# Free text written about a share or an access, beyond the record's main text: redacted like it, not shown
# as a plain detail (a purpose or a reason can name a neighbour, an ex-partner, an informant).
FREE_TEXT_DETAILS = {"sharing_record": ("purpose", "decision_maker", "not_informed_reason"),
                     "access_log": ("accessed_by", "reason")}


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
    _free_text_as_fields(found)
    people = request_people(store, found, requester_person_id=request.get("requester_person_id"))
    return redact_again(conn, Workset(request, found, people, {}, 0))


def redact_again(conn: sa.Connection, ws: Workset) -> Workset:
    """The working set with the reviewer's decisions as they stand now (the store is not read again)."""
    decisions = review_mod.reviewer_redactions(conn, ws.request["request_id"])
    result = redact_records(ws.discovery.records, RedactionContext(ws.people), reviewer=decisions.applied,
                            lifted=decisions.lifted, lifted_spans=decisions.lifted_spans)
    return Workset(ws.request, ws.discovery, ws.people, result, decisions.waiting)


def _free_text_as_fields(found: Discovery) -> None:
    """Move the free-text details of shares and accesses into the fields the redaction rules read."""
    for record in found.records:
        for name in FREE_TEXT_DETAILS.get(record.entity, ()):
            value = record.meta.pop(name, None)
            if isinstance(value, str) and value.strip():
                record.fields[name] = value


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


def recorded_case_ids(conn: sa.Connection, request_id: str) -> list[str]:
    """The subject's cases as discovery recorded them (for the disclosure's ledger entry)."""
    query = sa.select(records.c.record_id).where(records.c.request_id == request_id, records.c.entity == "case")
    return list(conn.execute(query).scalars())


def dates_of_birth(store: Any, person_ids: list[str | None]) -> dict[str, date | None]:
    """Date of birth of each named person (subject, requester); refused if the store has no such person."""
    if not person_ids or not (person_ids[0] or "").strip():
        raise RequestError("a request needs its subject's person id (it was empty)")
    ids = [p for p in person_ids if p]
    with store.engine.connect() as conn:
        query = store.select("person", ["id", "date_of_birth"]).where(store.raw("person", "id").in_(ids))
        found = {r["id"]: r["date_of_birth"] for r in conn.execute(query).mappings()}
    for pid in ids:
        if pid not in found:
            raise RequestError(f"store {store.name} has no person {pid[:80]!r}")
    return found
