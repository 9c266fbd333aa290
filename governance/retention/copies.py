"""The platform's own copies of destroyed cases, chased with the case's objects.

Run in step 4 of a chunk (after the store has committed, before the chunk is
marked complete), so a rerun of an interrupted chunk chases them again; each
chase is idempotent. Copies covered:

- access-request bundles that drew on a destroyed case: stored bundle (every
  version), its key, handover files (:mod:`governance.sar.forget`);
- research extracts: rows of destroyed cases and people, in every live study of
  the store (:mod:`governance.research.forget`).

Not copies of content, so kept: Data Docs and the ledger (identifiers and counts
only), anonymisation skeletons (no identifiers).
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["forget_copies"]


def forget_copies(ctx: Any, case_ids: list[str], person_ids: list[str], *, batch_id: str, as_of: date,
                  actor: str) -> tuple[dict[str, int], dict[str, Any]]:
    """Counts (for the ledger entry) and details (request and study ids, never people) of what went."""
    from governance.sar.forget import forget_cases as forget_bundles

    home = ctx.settings.home if ctx.settings is not None else None
    sar = forget_bundles(state=ctx.state, objects=ctx.objects, keys=ctx.keys, home=home, store=ctx.store.name,
                         case_ids=case_ids)
    counts = {"copies.sar_bundle_versions": sar["bundle_versions_deleted"], "copies.sar_keys": sar["keys_destroyed"]}
    details: dict[str, Any] = {"sar_requests": sar["requests"]} if sar["requests"] else {}
    research = _forget_research(ctx, case_ids, person_ids, batch_id=batch_id, as_of=as_of, actor=actor)
    if research:
        counts.update({f"copies.research_{k}": int(v) for k, v in research.items() if isinstance(v, int)})
    return counts, details


def _forget_research(ctx, case_ids, person_ids, *, batch_id, as_of, actor) -> dict[str, Any] | None:
    if ctx.settings is None or not (case_ids or person_ids) or not _live_extract_parts(ctx):
        return None
    from governance.research.forget import forget_cases  # pyarrow and friends: only when there is work
    return forget_cases(ctx.settings, ctx.store.name, case_ids=case_ids, person_ids=person_ids, as_of=as_of,
                        actor=actor, batch_id=batch_id)


def _live_extract_parts(ctx) -> bool:
    """Whether any study of this store, not ended, still has extract parts stored (one indexed query)."""
    import sqlalchemy as sa

    try:
        from governance.research import tables as rt
    except ModuleNotFoundError:  # a build without the research capability keeps no extracts
        return False
    with ctx.state.connect() as conn:
        return conn.execute(sa.select(rt.objects.c.id).join(rt.studies, rt.studies.c.study_id == rt.objects.c.study_id)
                            .where(rt.studies.c.store == ctx.store.name, rt.studies.c.status != "ended",
                                   rt.objects.c.kind == "part", rt.objects.c.deleted_on.is_(None))
                            .limit(1)).first() is not None
