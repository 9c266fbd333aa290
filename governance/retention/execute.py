"""Executing a batch chunk by chunk, safe to kill at any line and run again.

Invariants, whatever instant the process dies at and however often it reruns:
nothing leaves the store without a ledger entry first, no ledger entry claims a
destruction that did not happen, and nothing is done twice.

**Separate databases** (the embedded default: store and ledger are different
SQLite files) follow an intent/complete protocol:

1. *intent*: in one state transaction, the chunk row (cases, object keys, linked
   ids, planned row counts, anonymisation skeletons) and the ledger entry
   ``retention.destroy.intent``;
2. the store transaction deletes the rows;
3. every version of each recorded object is deleted;
4. *complete*: in one state transaction, the chunk, its items, tombstones and
   skeletons, and the ledger entry ``retention.destroy.complete``.

A rerun finishing an *intent* looks at which of its cases are still in the
store: gone ones were deleted (step 2 committed), present ones are checked for
eligibility again and deleted, or skipped with a revised intent in the ledger.

**One database** (store, state and ledger together): steps 1, 2 and 4 for the
rows are a single transaction with the ledger entry ``retention.destroyed``;
objects follow, then ``retention.objects.destroyed`` completes the chunk.

Eligibility is evaluated again just before each chunk: a hold or access request
placed after approval wins and the case is skipped, with the reason recorded.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.retention import tables
from governance.retention.batches import load_batch
from governance.retention.context import RetentionContext
from governance.retention.destroy import Gathered, delete_rows, gather
from governance.retention.eligibility import evaluate
from governance.retention.facts import load_facts
from governance.retention.skeleton import skeleton_of
from governance.retention.eligibility import RESURRECTED_RULE
from governance.db import chunked
from governance.retention.tombstones import add_tombstones, tombstone_key

__all__ = ["execute_chunk", "chunk_numbers", "start_execution", "OBJECT_DELETERS"]

# Object deletions are I/O-bound (an fsync locally, an HTTP round trip on S3): overlap a few.
OBJECT_DELETERS = 8


def chunk_numbers(ctx: RetentionContext, batch_id: str) -> list[int]:
    with ctx.state.connect() as conn:
        return sorted(conn.execute(sa.select(tables.batch_items.c.chunk_no).distinct()
                                   .where(tables.batch_items.c.batch_id == batch_id)).scalars())


def start_execution(ctx: RetentionContext, batch_id: str, actor: str) -> None:
    """Mark an approved batch as executing (once; a rerun finds it executing)."""
    batch = load_batch(ctx.state, batch_id)
    if batch.status in ("executing", "executed", "verified"):
        return
    if batch.status != "approved":
        raise GovernanceError(f"batch {batch_id} is {batch.status}: only an approved batch is executed")
    with ctx.state.begin() as conn:
        changed = conn.execute(tables.batches.update().where(tables.batches.c.batch_id == batch_id,
                                                             tables.batches.c.status == "approved")
                               .values(status="executing")).rowcount
        if changed:
            ctx.ledger.append(actor=actor, action="retention.batch.executing", store=batch.store,
                              details={"batch_id": batch_id}, connection=ctx.ledger_connection(conn))


def execute_chunk(ctx: RetentionContext, batch_id: str, chunk_no: int, *, as_of: date, actor: str) -> dict:
    """Execute (or finish) one chunk; returns counts and identifiers only."""
    start_execution(ctx, batch_id, actor)
    with ctx.state.connect() as conn:
        row = conn.execute(sa.select(tables.chunks).where(tables.chunks.c.batch_id == batch_id,
                                                          tables.chunks.c.chunk_no == chunk_no)).first()
    if row is not None and row.state == "complete":
        return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": True, **json.loads(row.counts or "{}")}
    if row is not None:
        return _finish(ctx, batch_id, chunk_no, row, as_of=as_of, actor=actor)
    return _fresh(ctx, batch_id, chunk_no, as_of=as_of, actor=actor)


# -- steps ---------------------------------------------------------------------------


def _pending_items(ctx: RetentionContext, batch_id: str, chunk_no: int) -> dict[str, tuple[str, str]]:
    """case id -> (action, rule) of the chunk's items not yet done."""
    items = tables.batch_items
    with ctx.state.connect() as conn:
        rows = conn.execute(sa.select(items.c.case_id, items.c.action, items.c.rule_id).where(
            items.c.batch_id == batch_id, items.c.chunk_no == chunk_no, items.c.state == "pending")).all()
    return {case_id: (action, rule) for case_id, action, rule in rows}


def _recheck(ctx: RetentionContext, batch_id: str, items: dict[str, tuple[str, str]], as_of: date, actor: str) -> list[str]:
    """Eligibility again, now: returns the cases still due; the rest are skipped and recorded."""
    if not items:
        return []
    # A case batched because its tombstone matched is still a returned record: tombstones are never removed.
    resurrected = frozenset(c for c, (_, rule) in items.items() if rule == RESURRECTED_RULE)
    decisions = evaluate(ctx.store, ctx.state, ctx.schedule, as_of, case_ids=list(items), resurrected=resurrected)
    decided = {d.case_id: d for d in decisions}
    still_due, skipped = [], {}
    for case_id, (action, _rule) in items.items():
        d = decided.get(case_id)
        if d is not None and d.status == "due" and d.action == action:
            still_due.append(case_id)
        else:
            skipped[case_id] = "GONE" if d is None else (",".join(d.reasons) or d.status.upper())[:200]
    if skipped:
        with ctx.state.begin() as conn:
            for case_id, reason in skipped.items():
                conn.execute(tables.batch_items.update().where(tables.batch_items.c.batch_id == batch_id,
                                                               tables.batch_items.c.case_id == case_id)
                             .values(state="skipped", skip_reason=reason))
            reasons: dict[str, int] = {}
            for reason in skipped.values():
                for code in reason.split(","):
                    key = f"skipped.{code.split(':')[0]}"
                    reasons[key] = reasons.get(key, 0) + 1
            ctx.ledger.append(actor=actor, action="retention.skipped", store=ctx.store.name,
                              record_ids=sorted(skipped), counts=reasons, details={"batch_id": batch_id},
                              connection=ctx.ledger_connection(conn))
    return sorted(still_due)


def _skeletons(ctx: RetentionContext, items: dict[str, tuple[str, str]], case_ids: list[str]) -> dict[str, dict]:
    anonymise = [c for c in case_ids if items.get(c, ("", ""))[0] == "anonymise"]
    if not anonymise:
        return {}
    facts = load_facts(ctx.store, anonymise)
    return {c: skeleton_of(facts[c]) for c in anonymise if c in facts}


def _chunk_values(g: Gathered, skeletons: dict[str, dict], state: str) -> dict:
    return {
        "state": state,
        "case_ids": json.dumps(g.case_ids),
        "object_keys": json.dumps(g.object_keys),
        "linked_ids": json.dumps({"person": g.person_ids, "family": g.family_ids, "consent": g.consent_ids}),
        "pending_skeletons": json.dumps(skeletons, sort_keys=True),
        "counts": json.dumps({"rows": g.counts}, sort_keys=True),
    }


def _fresh(ctx: RetentionContext, batch_id: str, chunk_no: int, *, as_of: date, actor: str) -> dict:
    items = _pending_items(ctx, batch_id, chunk_no)
    due = _recheck(ctx, batch_id, items, as_of, actor)
    if not due:  # everything was skipped (recorded by _recheck): nothing to destroy
        with ctx.state.begin() as conn:
            conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, state="complete",
                                                       case_ids="[]", object_keys="[]", linked_ids="{}",
                                                       counts=json.dumps({"cases": 0})))
        return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": False, "cases": 0}
    with ctx.store.engine.connect() as conn:
        g = gather(ctx.store, conn, due)
    skeletons = _skeletons(ctx, items, due)
    if ctx.one_database:
        return _one_transaction(ctx, batch_id, chunk_no, g, skeletons, actor)
    with ctx.state.begin() as conn:
        entry = ctx.ledger.append(actor=actor, action="retention.destroy.intent", store=ctx.store.name,
                                  record_ids=g.case_ids, counts=_flat(g.counts),
                                  details={"batch_id": batch_id, "chunk": chunk_no, "objects": len(g.object_keys)},
                                  connection=ctx.ledger_connection(conn))
        conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, intent_seq=entry.seq,
                                                   **_chunk_values(g, skeletons, "intent")))
    removed = _delete_store_rows(ctx, g)
    return _complete(ctx, batch_id, chunk_no, g, skeletons, removed, actor)


def _one_transaction(ctx, batch_id, chunk_no, g, skeletons, actor) -> dict:
    with ctx.store.engine.begin() as conn:
        removed = delete_rows(ctx.store, conn, g) if g.case_ids else {}
        entry = ctx.ledger.append(actor=actor, action="retention.destroyed", store=ctx.store.name,
                                  record_ids=g.case_ids, counts=_flat(removed),
                                  details={"batch_id": batch_id, "chunk": chunk_no, "objects": len(g.object_keys)},
                                  connection=conn)
        conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, intent_seq=entry.seq,
                                                   **_chunk_values(g, skeletons, "rows_deleted")))
        _record_done(ctx, conn, batch_id, g, skeletons)
    return _complete(ctx, batch_id, chunk_no, g, {}, removed, actor, rows_recorded=True)


def _delete_store_rows(ctx: RetentionContext, g: Gathered) -> dict[str, int]:
    if not g.case_ids:
        return {}
    with ctx.store.engine.begin() as conn:
        return delete_rows(ctx.store, conn, g)


def _record_done(ctx, conn, batch_id: str, g: Gathered, skeletons: dict[str, dict]) -> None:
    for ids in chunked(g.case_ids):
        conn.execute(tables.batch_items.update().where(tables.batch_items.c.batch_id == batch_id,
                                                       tables.batch_items.c.case_id.in_(ids)).values(state="done"))
    key = tombstone_key(ctx.keys)
    # Cases only: the people gathered are candidates, and those still on another case are kept.
    add_tombstones(conn, key, store=ctx.store.name, batch_id=batch_id, entity="case", ids=g.case_ids)
    if skeletons:
        conn.execute(tables.skeletons.insert(), [{**s, "store": ctx.store.name, "batch_id": batch_id}
                                                 for c, s in sorted(skeletons.items()) if c in set(g.case_ids)])


def _delete_objects(ctx: RetentionContext, keys: list[str]) -> int:
    if len(keys) < 2:
        return sum(ctx.objects.delete(key) for key in keys)
    with ThreadPoolExecutor(max_workers=OBJECT_DELETERS, thread_name_prefix="retention-objects") as pool:
        return sum(pool.map(ctx.objects.delete, keys))


def _complete(ctx, batch_id, chunk_no, g: Gathered, skeletons, removed, actor, *, rows_recorded=False) -> dict:
    started = time.perf_counter()
    versions = _delete_objects(ctx, g.object_keys)
    objects_s = time.perf_counter() - started
    counts = {"rows": removed or g.counts, "object_versions": versions, "cases": len(g.case_ids)}
    with ctx.state.begin() as conn:
        if not rows_recorded:
            _record_done(ctx, conn, batch_id, g, skeletons)
        entry = ctx.ledger.append(
            actor=actor, action="retention.objects.destroyed" if rows_recorded else "retention.destroy.complete",
            store=ctx.store.name, record_ids=g.case_ids,
            counts={**_flat(counts["rows"]), "object_versions": versions},
            details={"batch_id": batch_id, "chunk": chunk_no}, connection=ctx.ledger_connection(conn))
        conn.execute(tables.chunks.update().where(tables.chunks.c.batch_id == batch_id, tables.chunks.c.chunk_no == chunk_no)
                     .values(state="complete", complete_seq=entry.seq, pending_skeletons=None,
                             counts=json.dumps(counts, sort_keys=True)))
    return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": False, **counts,
            "seconds_objects": round(objects_s, 4)}


def _finish(ctx, batch_id: str, chunk_no: int, row, *, as_of: date, actor: str) -> dict:
    """Pick up a chunk a killed process left between intent and complete."""
    linked = json.loads(row.linked_ids)
    g = Gathered(json.loads(row.case_ids), json.loads(row.object_keys), linked["consent"], linked["person"],
                 linked["family"], json.loads(row.counts or "{}").get("rows", {}))
    skeletons = json.loads(row.pending_skeletons or "{}")
    if row.state == "rows_deleted":
        return _complete(ctx, batch_id, chunk_no, g, {}, g.counts, actor, rows_recorded=True)
    with ctx.store.engine.connect() as conn:
        present = set(conn.execute(sa.select(ctx.store.raw("case", "id"))
                                   .where(ctx.store.raw("case", "id").in_(g.case_ids))).scalars()) if g.case_ids else set()
    if present:
        # The store transaction never committed: decide again for the cases still there.
        items = {c: a for c, a in _pending_items(ctx, batch_id, chunk_no).items() if c in present}
        still_due = set(_recheck(ctx, batch_id, items, as_of, actor))
        gone = [c for c in g.case_ids if c not in present]
        if len(still_due) != len(present):
            # Keep what the intent recorded for cases already deleted; gather afresh for the rest.
            with ctx.store.engine.connect() as conn:
                fresh = gather(ctx.store, conn, sorted(still_due))
                still_there = gather(ctx.store, conn, sorted(present))
            g = _merge(g, gone, fresh, still_there)
            skeletons = {c: s for c, s in skeletons.items() if c in set(g.case_ids)}
            with ctx.state.begin() as conn:
                ctx.ledger.append(actor=actor, action="retention.destroy.intent_revised", store=ctx.store.name,
                                  record_ids=g.case_ids, counts=_flat(g.counts),
                                  details={"batch_id": batch_id, "chunk": chunk_no}, connection=ctx.ledger_connection(conn))
                conn.execute(tables.chunks.update().where(tables.chunks.c.batch_id == batch_id,
                                                          tables.chunks.c.chunk_no == chunk_no)
                             .values(**_chunk_values(g, skeletons, "intent")))
        to_delete = Gathered(sorted(still_due), g.object_keys, g.consent_ids, g.person_ids, g.family_ids, g.counts)
        removed = _delete_store_rows(ctx, to_delete)
        return _complete(ctx, batch_id, chunk_no, g, skeletons, removed if not gone else g.counts, actor)
    return _complete(ctx, batch_id, chunk_no, g, skeletons, g.counts, actor)


def _merge(intent: Gathered, gone: list[str], fresh: Gathered, still_there: Gathered) -> Gathered:
    """The intent's record for cases already deleted, plus a fresh gathering for the rest.

    Objects of cases still in the store are taken out of the intent's list first, so a
    case skipped now (say, newly held) never loses its documents.
    """
    def of_gone(recorded: list[str], present_now: list[str]) -> set[str]:
        return (set(recorded) - set(present_now)) if gone else set()

    return Gathered(
        sorted(set(gone) | set(fresh.case_ids)),
        sorted(of_gone(intent.object_keys, still_there.object_keys) | set(fresh.object_keys)),
        sorted(of_gone(intent.consent_ids, still_there.consent_ids) | set(fresh.consent_ids)),
        # People and families are only candidates: delete_rows keeps any still on a case.
        sorted(set(intent.person_ids if gone else []) | set(fresh.person_ids)),
        sorted(set(intent.family_ids if gone else []) | set(fresh.family_ids)),
        fresh.counts if not gone else intent.counts,
    )


def _flat(counts: dict) -> dict[str, int]:
    return {f"rows.{k}": int(v) for k, v in sorted(counts.items())}
