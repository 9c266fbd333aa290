"""Holds and access requests the ledger says are in force must be in force in the state database too.

Eligibility decides what is kept from the state tables (``retention_holds``,
``sar_requests``): quick to query, and the one place the rules read. The ledger,
hash-chained and signed, records every hold placed and lifted and every request
lodged, disclosed or closed. A row deleted or edited outside the platform (a
DBA removing a hold, or setting a pending request to ``withdrawn``) would
otherwise release its cases without a trace, and they would be destroyed at the
next execution. So before a chunk is judged, :func:`check_keepers` compares the
two and stops the execution, with one line naming the hold or request and
nothing destroyed, when:

- a hold the ledger placed (for this store or every store) and had not lifted by
  the day of the work is missing from ``retention_holds``, not in force there,
  or holds a different scope there than the one the ledger recorded;
- a request the ledger lodged for this store, and neither disclosed nor closed,
  is missing from ``sar_requests``, not pending there, or names another subject.

The other direction (a row without its ledger entry) is left alone on purpose: a
hold row is written before its entry (a crash between the two leaves a hold in
force without its entry, which destroys nothing), and a row that keeps more than
the ledger says never destroys anything. A lift killed between its row and its
entry is finished by running ``hold lift`` again (:func:`unrecorded_lift`).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.errors import RecordRuleError
from governance.retention import tables

__all__ = ["check_keepers", "holds_in_ledger", "unrecorded_lift", "KEEPER_RULE"]

KEEPER_RULE = "keepers_as_the_ledger_records"
_HOLD_ACTIONS = ("retention.hold.placed", "retention.hold.lifted")
_REQUEST_ACTIONS = ("sar.lodged", "sar.disclosed", "sar.closed")
_ID_KEYS = ("case_ids", "family_ids", "person_ids")


def _entries(ledger: Engine, actions: tuple[str, ...]) -> list[Any]:
    from governance.ledger.schema import entries_table as e

    with ledger.connect() as conn:
        return conn.execute(sa.select(e.c.seq, e.c.action, e.c.store, e.c.record_ids, e.c.counts, e.c.details)
                            .where(e.c.action.in_(actions)).order_by(e.c.seq)).all()


def holds_in_ledger(ledger: Engine) -> dict[str, dict[str, Any]]:
    """hold id -> what the ledger recorded: placing entry, store, scope, placed_on, lifted_on (None if not lifted)."""
    holds: dict[str, dict[str, Any]] = {}
    for seq, action, store, record_ids, counts, details in _entries(ledger, _HOLD_ACTIONS):
        details = json.loads(details or "{}")
        hold_id = details.get("hold_id")
        if not hold_id or not details.get("placed_on" if action == "retention.hold.placed" else "lifted_on"):
            continue  # not written by governance.jobs.holds (a manual `audit record` note): no hold to check
        if action == "retention.hold.lifted":
            if hold_id in holds:
                holds[hold_id]["lifted_on"] = date.fromisoformat(details["lifted_on"])
            continue
        ids, counts = json.loads(record_ids or "[]")[1:], json.loads(counts or "{}")
        scope: dict[str, Any] = {}
        for key in _ID_KEYS:  # record_ids are the hold's id, then its case, family and person ids in that order
            n = int(counts.get(key, 0))
            if n:
                scope[key] = sorted(ids[:n])
            ids = ids[n:]
        scope.update({key: sorted(details.get(key) or []) for key in ("case_types", "flags") if details.get(key)})
        scope.update({key: True for key in ("all", "pre_emptive") if details.get(key)})
        holds[hold_id] = {"seq": seq, "store": store, "scope": scope,
                          "placed_on": date.fromisoformat(details["placed_on"]), "lifted_on": None}
    return holds


def _in_force(placed_on: date, lifted_on: date | None, on: date) -> bool:
    return placed_on <= on and (lifted_on is None or lifted_on > on)


def _check_holds(ledger: Engine, state: Engine, store: str, on: date) -> None:
    recorded = {hold_id: h for hold_id, h in holds_in_ledger(ledger).items()
                if h["store"] in (None, store) and _in_force(h["placed_on"], h["lifted_on"], on)}
    if not recorded:
        return
    h = tables.holds
    with state.connect() as conn:
        rows = {r.hold_id: r for r in conn.execute(sa.select(h).where(h.c.hold_id.in_(sorted(recorded))))}
    for hold_id, entry in sorted(recorded.items()):
        row = rows.get(hold_id)
        problem, remedy = _hold_problem(row, entry, on)
        if problem:
            raise RecordRuleError(hold_id, KEEPER_RULE, (
                f"the ledger placed this hold (entry {entry['seq']}) and has not lifted it, but it {problem}: "
                f"nothing was destroyed; {remedy}"))


def _hold_problem(row: Any, entry: dict[str, Any], on: date) -> tuple[str, str]:
    restore = f"restore the row as ledger entry {entry['seq']} records it"
    if row is None:
        return "has no row in retention_holds (deleted outside the platform?)", restore
    if not _in_force(row.placed_on, row.lifted_on, on):
        return ("is lifted or not yet placed in retention_holds (edited outside the platform, or a lift killed "
                "midway?)", "if it was lifted, run `governance retention hold lift` again to record the lift; else " + restore)
    if json.loads(row.scope) != entry["scope"]:
        return "covers other cases in retention_holds (edited outside the platform?)", restore
    return "", ""


def _check_requests(ledger: Engine, state: Engine, store: str) -> None:
    from governance.sar.tables import PENDING_STATUSES, requests

    lodged: dict[str, tuple[int, str | None]] = {}
    answered: set[str] = set()
    for seq, action, entry_store, record_ids, _counts, details in _entries(ledger, _REQUEST_ACTIONS):
        ids = json.loads(record_ids or "[]")
        if not ids or (action == "sar.lodged" and "received_on" not in json.loads(details or "{}")):
            continue  # not written by governance.jobs.sar (a manual `audit record` note)
        if action == "sar.lodged":
            if entry_store == store:
                lodged.setdefault(ids[0], (seq, ids[1] if len(ids) > 1 else None))
        else:
            answered.add(ids[0])
    pending = {rid: entry for rid, entry in lodged.items() if rid not in answered}
    if not pending:
        return
    with state.connect() as conn:
        rows = {r.request_id: r for r in conn.execute(sa.select(requests.c.request_id, requests.c.store,
                                                               requests.c.status, requests.c.subject_person_id)
                                                     .where(requests.c.request_id.in_(sorted(pending))))}
    for request_id, (seq, subject) in sorted(pending.items()):
        row = rows.get(request_id)
        problem = ("has no row in sar_requests (deleted outside the platform, or lodging killed midway: lodge it "
                   "again?)" if row is None
                   else f"is {row.status!r} in sar_requests (edited outside the platform?)" if row.status not in PENDING_STATUSES
                   else "names another store or subject in sar_requests (edited outside the platform?)"
                   if (row.store, row.subject_person_id) != (store, subject) else "")
        if problem:
            raise RecordRuleError(request_id, KEEPER_RULE, (
                f"the ledger lodged this access request (entry {seq}) and has neither disclosed nor closed it, but it "
                f"{problem}; nothing was destroyed; restore the row, or close the request with `governance sar close` (DPA 2018 s.173)"))


def check_keepers(ledger: Engine, state: Engine, store: str, on: date) -> None:
    """Raise :class:`RecordRuleError` naming the first hold or request the state database no longer keeps as recorded."""
    _check_holds(ledger, state, store, on)
    _check_requests(ledger, state, store)


def unrecorded_lift(ledger: Engine, state: Engine, hold_id: str) -> date | None:
    """The lift date of a hold lifted in ``retention_holds`` whose lift the ledger lacks (a lift killed midway), else None."""
    entry = holds_in_ledger(ledger).get(hold_id)
    if entry is None or entry["lifted_on"] is not None:
        return None
    with state.connect() as conn:
        lifted_on = conn.execute(sa.select(tables.holds.c.lifted_on)
                                 .where(tables.holds.c.hold_id == hold_id)).scalar_one_or_none()
    return lifted_on
