"""After execution: prove nothing of the batch remains, rows or object versions, and nothing was done twice.

The ledger is read back too: one execution claim (``retention.batch.executing``)
per batch and one completion per chunk and per case. Two processes executing one
batch used to leave two of each; the claim prevents that now, and a batch that
ever got them fails verification instead of being certified.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.retention import tables
from governance.retention.batches import load_batch
from governance.retention.context import RetentionContext
from governance.retention.destroy import remaining_rows

__all__ = ["verify_batch", "doubled_in_ledger"]

_COMPLETIONS = ("retention.destroy.complete", "retention.objects.destroyed")


def doubled_in_ledger(ctx: RetentionContext, batch_id: str) -> dict:
    """What the ledger records more than once for the batch: claims, chunk completions, cases completed."""
    from governance.ledger.schema import entries_table as e

    claims, chunks, cases = Counter(), Counter(), Counter()
    pattern = f"%{batch_id}%"  # narrowed in SQL, decided on the parsed details
    with ctx.ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.action, e.c.record_ids, e.c.details).where(
            e.c.action.in_(("retention.batch.executing", *_COMPLETIONS)), e.c.details.like(pattern)))
        for action, record_ids, details in rows:
            parsed = json.loads(details)
            if parsed.get("batch_id") != batch_id:
                continue
            if action == "retention.batch.executing":
                claims[batch_id] += 1
                continue
            chunks[parsed.get("chunk")] += 1
            cases.update(json.loads(record_ids))
    return {"executions": max(claims.values(), default=0),
            "chunks_completed_twice": sorted(c for c, n in chunks.items() if n > 1),
            "cases_completed_twice": sorted(c for c, n in cases.items() if n > 1)}


def verify_batch(ctx: RetentionContext, batch_id: str, *, actor: str) -> dict:
    batch = load_batch(ctx.state, batch_id)
    if batch.status not in ("executing", "executed", "verified"):
        raise GovernanceError(f"batch {batch_id} is {batch.status}: nothing executed to verify")
    with ctx.state.connect() as conn:
        chunk_rows = conn.execute(sa.select(tables.chunks).where(tables.chunks.c.batch_id == batch_id)).all()
        pending = conn.execute(sa.select(sa.func.count()).select_from(tables.batch_items).where(
            tables.batch_items.c.batch_id == batch_id, tables.batch_items.c.state == "pending")).scalar_one()
        states = dict(conn.execute(sa.select(tables.batch_items.c.state, sa.func.count())
                                   .where(tables.batch_items.c.batch_id == batch_id)
                                   .group_by(tables.batch_items.c.state)).all())
    unfinished = [r.chunk_no for r in chunk_rows if r.state != "complete"]
    case_ids = sorted({c for r in chunk_rows for c in json.loads(r.case_ids)})
    keys = sorted({k for r in chunk_rows for k in json.loads(r.object_keys)})
    consents = sorted({c for r in chunk_rows for c in json.loads(r.linked_ids or "{}").get("consent", [])})
    with ctx.store.engine.connect() as conn:
        left = remaining_rows(ctx.store, conn, case_ids, consents)
    versions_left = sum(len(ctx.objects.versions(k)) for k in keys)
    # Copies the platform made: stored access-request bundles that drew on these cases.
    from governance.sar.forget import requests_drawing_on

    with ctx.state.connect() as conn:
        bundles = requests_drawing_on(conn, batch.store, case_ids)
    copies_left = sum(len(ctx.objects.versions(k)) for _, k in bundles)
    doubled = doubled_in_ledger(ctx, batch_id)
    twice = bool(doubled["chunks_completed_twice"] or doubled["cases_completed_twice"] or doubled["executions"] > 1)
    ok = (not unfinished and pending == 0 and not any(left.values()) and versions_left == 0 and copies_left == 0
          and not twice)
    result = {
        "batch_id": batch_id, "ok": ok, "cases_destroyed": len(case_ids), "objects_checked": len(keys),
        "rows_remaining": sum(left.values()), "object_versions_remaining": versions_left,
        "copies_checked": len(bundles), "copy_versions_remaining": copies_left,
        "unfinished_chunks": unfinished, "pending_items": pending, "items": states,
        "executions_recorded": doubled["executions"], "cases_completed_twice": len(doubled["cases_completed_twice"]),
        "chunks_completed_twice": doubled["chunks_completed_twice"],
    }
    with ctx.state.begin() as conn:
        ctx.ledger.append(actor=actor, action="retention.verified" if ok else "retention.verification_failed",
                          store=batch.store, counts={"cases": len(case_ids), "rows_remaining": result["rows_remaining"],
                                                     "object_versions_remaining": versions_left,
                                                     "copy_versions_remaining": copies_left,
                                                     "cases_completed_twice": len(doubled["cases_completed_twice"])},
                          details={"batch_id": batch_id}, connection=ctx.ledger_connection(conn))
        if ok:
            now = datetime.now(timezone.utc)
            conn.execute(tables.batches.update().where(tables.batches.c.batch_id == batch_id)
                         .values(status="verified", executed_at=now, verified_at=now))
    if twice:
        raise GovernanceError(
            f"batch {batch_id} verification failed: the ledger records {doubled['executions']} executions and "
            f"{len(doubled['cases_completed_twice'])} cases completed more than once "
            f"(chunks {doubled['chunks_completed_twice'][:10]})")
    if not ok:
        raise GovernanceError(
            f"batch {batch_id} verification failed: {result['rows_remaining']} rows, {versions_left} object versions "
            f"and {copies_left} copy versions remain, {len(unfinished)} chunks unfinished, {pending} items pending")
    return result
