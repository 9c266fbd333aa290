"""Executing a batch chunk by chunk, safe to kill at any line and run again.

Invariants, whatever instant the process dies at and however often it reruns:
nothing leaves the store without a ledger entry first, no ledger entry claims a
destruction that did not happen, and nothing is done twice.

The store's deletes run first inside an open store transaction and report what
they removed (object keys, consents, people, families, rows per entity: see
:func:`~governance.retention.destroy.delete_cases`); a destruction takes effect
only when that transaction commits.

**The store apart from the ledger** (the embedded default: the store in one
SQLite file, state and ledger together in another) follows an intent/complete
protocol:

1. the store transaction deletes the chunk's rows, not yet committed;
2. *intent*: while it waits, one state transaction records the chunk (cases,
   object keys, linked ids, rows removed, anonymisation skeletons) with the
   ledger entry ``retention.destroy.intent``, and commits;
3. the store transaction commits;
4. every version of each recorded object is deleted;
5. *complete*: in one state transaction, the chunk, its items, tombstones and
   skeletons, and the ledger entry ``retention.destroy.complete``.

Killed before 3, the store is untouched (its transaction rolls back) and there
may be an intent: the rerun finds the intent's cases still in the store,
decides again and repeats from 1, recording ``retention.destroy.intent_revised``.
Killed after 3, the cases are gone: the rerun deletes the recorded objects and
completes.

**One database** (store, state and ledger together): 1, 2 and the rows' part
of 5 are a single transaction with the ledger entry ``retention.destroyed``;
objects follow, then ``retention.objects.destroyed`` completes the chunk.

Eligibility is evaluated again just before each chunk: a hold or access request
in force at that moment (``now``, the wall clock the caller passes, as storage
judges object locks) wins over the batch's as-of date, which runs the retention
clocks only; the case is skipped, with the reason recorded.

One execution per store at a time: each chunk runs under the store's claim
(:mod:`governance.retention.claims`), so two processes never work on one batch
together; the loser changes nothing and says so in one line. The completion
itself is a conditional transition (``state != 'complete'``) in the ledger
entry's transaction, so a chunk is never recorded complete twice.

No destruction is judged as of a date after today: :func:`refuse_future_as_of`.
"""

from __future__ import annotations

import gc
import json
import time
from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa

from governance.errors import ConfigError, GovernanceError
from governance.retention import tables
from governance.retention.batches import load_batch
from governance.retention.claims import claim_store
from governance.retention.context import RetentionContext
from governance.retention.copies import forget_copies
from governance.retention.destroy import Gathered, delete_cases
from governance.retention.eligibility import evaluate_with_facts
from governance.retention.facts import CaseFacts
from governance.retention.ledger_keepers import check_keepers
from governance.retention.skeleton import skeleton_of
from governance.retention.eligibility import RESURRECTED_RULE
from governance.db import one_of, same_database
from governance.retention.tombstones import add_tombstones, tombstone_key

__all__ = ["execute_chunk", "chunk_numbers", "start_execution", "refuse_future_as_of", "AsOfInFuture"]


class AsOfInFuture(ConfigError):
    """A destructive step was asked to judge retention as of a date after today."""


def refuse_future_as_of(as_of: date, today: date, what: str = "destruction") -> None:
    """One line and exit 2 for an as-of after today: clocks judged in the future destroy early."""
    if as_of > today:
        raise AsOfInFuture(f"as-of {as_of.isoformat()} is after today ({today.isoformat()}): {what} is judged as of "
                           "today or earlier; plans and forecasts may look ahead")


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


def execute_chunk(ctx: RetentionContext, batch_id: str, chunk_no: int, *, as_of: date, actor: str,
                  now: datetime) -> dict:
    """Execute (or finish) one chunk; returns counts and identifiers only.

    ``as_of`` runs the retention clocks; holds and rejections are judged on
    ``now`` (the wall clock, passed in by the command or task).
    """
    refuse_future_as_of(as_of, now.date())
    with claim_store(ctx.state, ctx.store.name, purpose=f"execution of {batch_id}", holder=actor), \
            _long_lived_objects_frozen():
        return _execute_chunk(ctx, batch_id, chunk_no, as_of=as_of, actor=actor, today=now.date())


@contextmanager
def _long_lived_objects_frozen():
    """Keep the cyclic GC from re-scanning the process's settled heap while a chunk runs.

    A chunk allocates a few hundred thousand short-lived objects (rows, facts,
    ids), enough to trigger a full collection, which walks every object the
    process holds (modules, SQLAlchemy's metadata and caches: ~100k, 30 ms, as
    long as the chunk's whole bookkeeping). Frozen objects are skipped by
    collections; young garbage is still collected. Unfrozen afterwards, so a
    long-lived worker loses nothing.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _execute_chunk(ctx: RetentionContext, batch_id: str, chunk_no: int, *, as_of: date, actor: str,
                   today: date) -> dict:
    start_execution(ctx, batch_id, actor)
    with ctx.state.connect() as conn:
        row = conn.execute(sa.select(tables.chunks).where(tables.chunks.c.batch_id == batch_id,
                                                          tables.chunks.c.chunk_no == chunk_no)).first()
    if row is not None and row.state == "complete":
        return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": True, **json.loads(row.counts or "{}")}
    if row is not None:
        return _finish(ctx, batch_id, chunk_no, row, as_of=as_of, actor=actor, today=today)
    return _fresh(ctx, batch_id, chunk_no, as_of=as_of, actor=actor, today=today)


# -- steps ---------------------------------------------------------------------------


def _pending_items(ctx: RetentionContext, batch_id: str, chunk_no: int) -> dict[str, tuple[str, str]]:
    """case id -> (action, rule) of the chunk's items not yet done."""
    items = tables.batch_items
    with ctx.state.connect() as conn:
        rows = conn.execute(sa.select(items.c.case_id, items.c.action, items.c.rule_id).where(
            items.c.batch_id == batch_id, items.c.chunk_no == chunk_no, items.c.state == "pending")).all()
    return {case_id: (action, rule) for case_id, action, rule in rows}


def _recheck(ctx: RetentionContext, batch_id: str, items: dict[str, tuple[str, str]], as_of: date,
             actor: str, today: date) -> tuple[list[str], dict[str, CaseFacts]]:
    """Eligibility again, now: returns the cases still due (and the facts read); the rest are skipped and recorded.

    Clocks as of the batch's ``as_of``; holds and rejections in force ``today``.
    """
    if not items:
        return [], {}
    # A hold or request the ledger records but the state database no longer keeps stops everything here.
    check_keepers(ctx.ledger.engine, ctx.state, ctx.store.name, today)
    # A case batched because its tombstone matched is still a returned record: tombstones are never removed.
    resurrected = frozenset(c for c, (_, rule) in items.items() if rule == RESURRECTED_RULE)
    decisions, facts = evaluate_with_facts(ctx.store, ctx.state, ctx.schedule, as_of, case_ids=list(items),
                                           resurrected=resurrected, objects=ctx.objects, in_force_at=today)
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
    return sorted(still_due), facts


def _skeletons(items: dict[str, tuple[str, str]], case_ids: list[str], facts: dict[str, CaseFacts]) -> dict[str, dict]:
    """Anonymisation skeletons, from the facts eligibility was just decided on."""
    return {c: skeleton_of(facts[c]) for c in case_ids if items.get(c, ("", ""))[0] == "anonymise" and c in facts}


def _chunk_values(g: Gathered, skeletons: dict[str, dict], state: str) -> dict:
    return {
        "state": state,
        "case_ids": json.dumps(g.case_ids),
        "object_keys": json.dumps(g.object_keys),
        "linked_ids": json.dumps({"person": g.person_ids, "family": g.family_ids, "consent": g.consent_ids}),
        "pending_skeletons": json.dumps(skeletons, sort_keys=True),
        "counts": json.dumps({"rows": g.counts}, sort_keys=True),
    }


def _fresh(ctx: RetentionContext, batch_id: str, chunk_no: int, *, as_of: date, actor: str, today: date) -> dict:
    items = _pending_items(ctx, batch_id, chunk_no)
    due, facts = _recheck(ctx, batch_id, items, as_of, actor, today)
    if not due:  # everything was skipped (recorded by _recheck): nothing to destroy
        with ctx.state.begin() as conn:
            conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, state="complete",
                                                       case_ids="[]", object_keys="[]", linked_ids="{}",
                                                       counts=json.dumps({"cases": 0})))
        return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": False, "cases": 0}
    skeletons = _skeletons(items, due, facts)
    if ctx.one_database:
        return _one_transaction(ctx, batch_id, chunk_no, due, skeletons, actor, as_of=as_of)
    g = _delete_with_intent(ctx, batch_id, chunk_no, due, skeletons, actor, action="retention.destroy.intent")
    return _complete(ctx, batch_id, chunk_no, g, skeletons, actor, as_of=as_of)


def _delete_with_intent(ctx: RetentionContext, batch_id: str, chunk_no: int, case_ids: list[str], skeletons: dict,
                        actor: str, *, action: str, kept: Gathered | None = None) -> Gathered:
    """Steps 1-3: delete in an open store transaction, commit the intent, then commit the store.

    ``kept`` is what an earlier intent recorded for cases already gone (a rerun):
    the revised intent names both.
    """
    with ctx.store.engine.begin() as store_conn:
        removed = delete_cases(ctx.store, store_conn, case_ids)
        recorded = _merge(kept, removed) if kept is not None else removed
        named = set(recorded.case_ids)
        chunk_skeletons = {c: s for c, s in skeletons.items() if c in named}
        if same_database(ctx.state, ctx.store.engine):
            # State in the store's own database: the same transaction (a second connection would wait on it).
            _record_intent(ctx, store_conn, batch_id, chunk_no, recorded, chunk_skeletons, actor, action)
        else:
            with ctx.state.begin() as conn:
                _record_intent(ctx, conn, batch_id, chunk_no, recorded, chunk_skeletons, actor, action)
    return recorded


def _record_intent(ctx, conn, batch_id, chunk_no, g: Gathered, skeletons, actor: str, action: str) -> None:
    entry = ctx.ledger.append(actor=actor, action=action, store=ctx.store.name, record_ids=g.case_ids,
                              counts=_flat(g.counts),
                              details={"batch_id": batch_id, "chunk": chunk_no, "objects": len(g.object_keys)},
                              connection=ctx.ledger_connection(conn))
    values = _chunk_values(g, skeletons, "intent")
    updated = conn.execute(tables.chunks.update().where(tables.chunks.c.batch_id == batch_id,
                                                        tables.chunks.c.chunk_no == chunk_no)
                           .values(**values)).rowcount
    if not updated:
        conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, intent_seq=entry.seq, **values))


def _one_transaction(ctx, batch_id, chunk_no, case_ids: list[str], skeletons, actor, *, as_of: date) -> dict:
    with ctx.store.engine.begin() as conn:
        g = delete_cases(ctx.store, conn, case_ids)
        entry = ctx.ledger.append(actor=actor, action="retention.destroyed", store=ctx.store.name,
                                  record_ids=g.case_ids, counts=_flat(g.counts),
                                  details={"batch_id": batch_id, "chunk": chunk_no, "objects": len(g.object_keys)},
                                  connection=conn)
        conn.execute(tables.chunks.insert().values(batch_id=batch_id, chunk_no=chunk_no, intent_seq=entry.seq,
                                                   **_chunk_values(g, skeletons, "rows_deleted")))
        _record_done(ctx, conn, batch_id, g, skeletons)
    return _complete(ctx, batch_id, chunk_no, g, {}, actor, as_of=as_of, rows_recorded=True)


def _record_done(ctx, conn, batch_id: str, g: Gathered, skeletons: dict[str, dict]) -> None:
    conn.execute(tables.batch_items.update().where(
        tables.batch_items.c.batch_id == batch_id,
        one_of(tables.batch_items.c.case_id, g.case_ids, conn.dialect.name)).values(state="done"))
    key = tombstone_key(ctx.keys)
    # Cases only: people are removed only when no other case holds them, and are not tombstoned.
    add_tombstones(conn, key, store=ctx.store.name, batch_id=batch_id, entity="case", ids=g.case_ids)
    destroyed = set(g.case_ids)
    if skeletons:
        conn.execute(tables.skeletons.insert(), [{**s, "store": ctx.store.name, "batch_id": batch_id}
                                                 for c, s in sorted(skeletons.items()) if c in destroyed])


def _complete(ctx, batch_id, chunk_no, g: Gathered, skeletons, actor, *, as_of: date, rows_recorded=False) -> dict:
    started = time.perf_counter()
    versions = ctx.objects.delete_many(g.object_keys)
    objects_s = time.perf_counter() - started
    copies, copy_details = forget_copies(ctx, g.case_ids, g.person_ids, batch_id=batch_id, as_of=as_of, actor=actor)
    counts = {"rows": g.counts, "object_versions": versions, "cases": len(g.case_ids), "copies": copies}
    with ctx.state.begin() as conn:
        if not rows_recorded:
            _record_done(ctx, conn, batch_id, g, skeletons)
        entry = ctx.ledger.append(
            actor=actor, action="retention.objects.destroyed" if rows_recorded else "retention.destroy.complete",
            store=ctx.store.name, record_ids=g.case_ids,
            counts={**_flat(counts["rows"]), "object_versions": versions, **copies},
            details={"batch_id": batch_id, "chunk": chunk_no, **copy_details}, connection=ctx.ledger_connection(conn))
        # Conditional: a chunk is completed once; a second completer's entry rolls back with this transaction.
        completed = conn.execute(tables.chunks.update().where(tables.chunks.c.batch_id == batch_id,
                                                              tables.chunks.c.chunk_no == chunk_no,
                                                              tables.chunks.c.state != "complete")
                                 .values(state="complete", complete_seq=entry.seq, pending_skeletons=None,
                                         counts=json.dumps(counts, sort_keys=True))).rowcount
        if not completed:
            raise GovernanceError(f"batch {batch_id} chunk {chunk_no} was completed by another process meanwhile")
    return {"batch_id": batch_id, "chunk": chunk_no, "already_complete": False, **counts,
            "seconds_objects": round(objects_s, 4)}


def _finish(ctx, batch_id: str, chunk_no: int, row, *, as_of: date, actor: str, today: date) -> dict:
    """Pick up a chunk a killed process left between intent and complete."""
    linked = json.loads(row.linked_ids)
    g = Gathered(json.loads(row.case_ids), json.loads(row.object_keys), linked["consent"], linked["person"],
                 linked["family"], json.loads(row.counts or "{}").get("rows", {}))
    skeletons = json.loads(row.pending_skeletons or "{}")
    if row.state == "rows_deleted":
        return _complete(ctx, batch_id, chunk_no, g, {}, actor, as_of=as_of, rows_recorded=True)
    with ctx.store.engine.connect() as conn:
        present = set(conn.execute(sa.select(ctx.store.raw("case", "id"))
                                   .where(one_of(ctx.store.raw("case", "id"), g.case_ids, conn.dialect.name))).scalars())
    if not present:
        return _complete(ctx, batch_id, chunk_no, g, skeletons, actor, as_of=as_of)
    # The store transaction never committed: decide again for the cases still there.
    kept = _gone_part(ctx, g, present) if len(present) < len(g.case_ids) else None
    items = {c: a for c, a in _pending_items(ctx, batch_id, chunk_no).items() if c in present}
    still_due, facts = _recheck(ctx, batch_id, items, as_of, actor, today)
    kept_cases = set(kept.case_ids) if kept else set()
    skeletons = {**{c: s for c, s in skeletons.items() if c in kept_cases},
                 **_skeletons(items, still_due, facts)}
    recorded = _delete_with_intent(ctx, batch_id, chunk_no, still_due, skeletons, actor,
                                   action="retention.destroy.intent_revised", kept=kept)
    named = set(recorded.case_ids)
    return _complete(ctx, batch_id, chunk_no, recorded, {c: s for c, s in skeletons.items() if c in named}, actor,
                     as_of=as_of)


def _gone_part(ctx: RetentionContext, intent: Gathered, present: set[str]) -> Gathered:
    """What an intent recorded for its cases that are gone, when others of its cases are still there.

    One chunk transaction never leaves that behind by itself: it follows a revised
    intent killed again, or cases removed by someone else meanwhile. The intent
    lists objects and consents per chunk, so those of the cases still present are
    taken out: a case skipped now (say, newly held) never loses its documents.
    """
    store = ctx.store
    still = sorted(present)
    with store.engine.connect() as conn:
        keys = set(conn.execute(sa.select(store.raw("document", "object_key")).where(
            one_of(store.raw("document", "case_id"), still, conn.dialect.name))).scalars()) \
            if store.has_field("document", "object_key") else set()
        consents = set(conn.execute(sa.select(store.raw("consent", "id")).where(
            one_of(store.raw("consent", "case_id"), still, conn.dialect.name))).scalars()) \
            if store.has("consent") and store.has_field("consent", "case_id") else set()
    return Gathered(sorted(c for c in intent.case_ids if c not in present),
                    sorted(set(intent.object_keys) - keys), sorted(set(intent.consent_ids) - consents),
                    list(intent.person_ids), list(intent.family_ids), dict(intent.counts))


def _merge(kept: Gathered, fresh: Gathered) -> Gathered:
    return Gathered(
        sorted(set(kept.case_ids) | set(fresh.case_ids)),
        sorted(set(kept.object_keys) | set(fresh.object_keys)),
        sorted(set(kept.consent_ids) | set(fresh.consent_ids)),
        sorted(set(kept.person_ids) | set(fresh.person_ids)),
        sorted(set(kept.family_ids) | set(fresh.family_ids)),
        {k: kept.counts.get(k, 0) + fresh.counts.get(k, 0) for k in sorted(set(kept.counts) | set(fresh.counts))},
    )


def _flat(counts: dict) -> dict[str, int]:
    return {f"rows.{k}": int(v) for k, v in sorted(counts.items())}
