"""Findings across runs: stable keys, first and last seen, open or resolved.

:func:`reconcile` folds one run's detections into ``sharing_findings`` inside
the caller's transaction, and is idempotent for a run id (a retried task
leaves the table as one try would). The rules it applies:

- a new key opens a finding (first and last seen: this run);
- a key seen again updates last seen;
- an open finding its rule no longer detects is resolved as
  ``no_longer_detected`` (the record was corrected), and reopens if detected again;
- a finding resolved with a note stays resolved in later runs, whatever they
  detect; last seen still moves, so the IG team can see it is still there.

Only the rules that actually ran for the store are reconciled: a skipped rule
never resolves its findings.

:func:`resolve_and_record` is what the CLI and the console call: the finding
resolved with a note and its ledger entry (``sharing.finding_resolved``) in one
unit-of-work transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import sqlalchemy as sa

from governance.db import chunked
from governance.errors import GovernanceError
from governance.sharing.consent import UnknownRecord
from governance.sharing.policy import RULES
from governance.sharing.tables import BY_NOTE, NO_LONGER_DETECTED, OPEN, RESOLVED, findings

if TYPE_CHECKING:
    from governance.unit import Unit

__all__ = ["Detected", "reconcile", "resolve_finding", "resolve_and_record", "list_findings", "open_finding_keys",
           "RESOLVED_ACTION"]

RESOLVED_ACTION = "sharing.finding_resolved"

_ENTITY = {rule.code: rule.entity for rule in RULES}


@dataclass(frozen=True)
class Detected:
    """One rule broken by one record in this run: identifiers and a date, nothing else."""

    rule: str
    record_id: str
    case_id: str | None
    event_on: date | None

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.record_id}"



def _update(conn: sa.Connection, store: str, keys: Sequence[str], values: dict[str, Any]) -> None:
    for chunk in chunked(sorted(keys)):
        conn.execute(findings.update().where(findings.c.store == store, findings.c.finding_key.in_(chunk)).values(**values))


def reconcile(
    conn: sa.Connection, *, store: str, detected: Iterable[Detected], rules_run: Sequence[str],
    run_id: str, as_of: date, at: datetime,
) -> dict[str, int]:
    """Fold ``detected`` into the findings table; return counts (no ids, no content)."""
    found = {d.key: d for d in detected}
    existing = {
        row.finding_key: row
        for row in conn.execute(
            sa.select(findings.c.finding_key, findings.c.status, findings.c.resolution, findings.c.first_seen_run)
            .where(findings.c.store == store, findings.c.rule.in_(list(rules_run)))
        )
    }
    new = [found[k] for k in found if k not in existing]
    if new:
        seen = dict(last_seen_run=run_id, last_seen_at=at, last_seen_as_of=as_of)
        rows = [dict(store=store, finding_key=d.key, rule=d.rule, entity=_ENTITY[d.rule], record_id=d.record_id,
                     case_id=d.case_id, event_on=d.event_on, status=OPEN, first_seen_run=run_id, first_seen_at=at,
                     first_seen_as_of=as_of, **seen) for d in new]
        for batch in chunked(rows):
            conn.execute(findings.insert(), batch)
    again = [k for k in found if k in existing]
    _update(conn, store, again, dict(last_seen_run=run_id, last_seen_at=at, last_seen_as_of=as_of))
    reopen = [k for k in again if existing[k].status == RESOLVED and existing[k].resolution == NO_LONGER_DETECTED]
    _update(conn, store, reopen, dict(status=OPEN, resolution=None, resolved_at=None, resolved_run=None))
    gone = [k for k, row in existing.items() if k not in found and row.status == OPEN]
    _update(conn, store, gone, dict(status=RESOLVED, resolution=NO_LONGER_DETECTED, resolved_at=at, resolved_run=run_id))
    noted = sum(1 for k in again if existing[k].status == RESOLVED and existing[k].resolution == BY_NOTE)
    return {
        "detected": len(found),
        # A retried run finds its own first try's rows: they are still this run's new findings.
        "new": len(new) + sum(1 for k in again if existing[k].first_seen_run == run_id),
        "reopened": len(reopen),
        "resolved_no_longer_detected": len(gone),
        "still_detected_resolved_with_note": noted,
        "open": len(found) - noted,
    }


def open_finding_keys(conn: sa.Connection, store: str) -> list[str]:
    """Keys of the store's open findings, sorted."""
    query = sa.select(findings.c.finding_key).where(findings.c.store == store, findings.c.status == OPEN)
    return sorted(conn.execute(query).scalars())


def resolve_finding(conn: sa.Connection, *, store: str, finding_key: str, by: str, note: str, at: datetime) -> dict[str, Any]:
    """Resolve one finding with the IG team's note; it then stays resolved in later runs."""
    if not note or not note.strip():
        raise GovernanceError("a finding is resolved with a note: give --note")
    if not by or not by.strip():
        raise GovernanceError("say who resolved the finding: give --by")
    row = conn.execute(
        sa.select(findings.c.rule, findings.c.record_id).where(findings.c.store == store, findings.c.finding_key == finding_key)
    ).first()
    if row is None:
        raise UnknownRecord(f"store {store}: no sharing finding {finding_key}")
    conn.execute(
        findings.update().where(findings.c.store == store, findings.c.finding_key == finding_key)
        .values(status=RESOLVED, resolution=BY_NOTE, resolved_at=at, resolved_by=by.strip(), resolution_note=note.strip())
    )
    return {"store": store, "finding_key": finding_key, "rule": row.rule, "record_id": row.record_id, "status": RESOLVED}


def resolve_and_record(unit: "Unit", *, store: str, finding_key: str, by: str, note: str, at: datetime,
                       actor: str) -> dict[str, Any]:
    """:func:`resolve_finding` and its ledger entry, committed together where they share a database."""
    with unit.transaction() as work:
        result = resolve_finding(work.conn, store=store, finding_key=finding_key, by=by, note=note, at=at)
        result["ledger_seq"] = work.append_once_now(
            key=f"{store}:{finding_key}:{at.isoformat()}", actor=actor, action=RESOLVED_ACTION, store=store,
            rule=result["rule"], reason="sharing finding resolved with a note by the IG team",
            record_ids=[finding_key], counts={"resolved": 1})
    return result


def list_findings(conn: sa.Connection, *, store: str | None = None, status: str | None = None,
                  rule: str | None = None) -> list[dict[str, Any]]:
    """Findings as identifiers, codes and dates (the resolution note is left out)."""
    columns = [c for c in findings.c if c.name not in ("id", "resolution_note")]
    query = sa.select(*columns).order_by(findings.c.store, findings.c.rule, findings.c.record_id)
    if store:
        query = query.where(findings.c.store == store)
    if status:
        query = query.where(findings.c.status == status)
    if rule:
        query = query.where(findings.c.rule == rule)
    out = []
    for row in conn.execute(query):
        item = dict(row._mapping)
        for key, value in item.items():
            if isinstance(value, (date, datetime)):
                item[key] = value.isoformat()
        out.append(item)
    return out
