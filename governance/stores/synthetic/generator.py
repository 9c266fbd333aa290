"""Write a fictional store: families streamed in chunks, documents to object storage.

Memory is bounded by ``chunk_families``: rows of one chunk are inserted in one
transaction and dropped. The manifest (exact counts of rows, deliberate
problems with their record ids, mention tallies, leap-day dates) is written
to a marker table in the store and returned, so tests compare exact numbers.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import Future, ThreadPoolExecutor
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Callable

import sqlalchemy as sa

from governance.storage import ObjectStore
from governance.stores.store import CaseStore
from governance.stores.synthetic import vocab
from governance.stores.synthetic.families import FamilyContext, Professional, build_family
from governance.stores.synthetic.plan import DEFECT_KINDS, VIOLATION_KINDS, make_plan

__all__ = ["DEFAULT_AS_OF", "GenerationResult", "generate_store", "MARKER_TABLE", "marker_table"]

# Fixed, so that a seed always gives the same store (the generator never reads the clock).
DEFAULT_AS_OF = date(2026, 6, 30)
MARKER_TABLE = "governance_synthetic"
# Insert order: parents before children, though the store enforces no keys.
_ENTITY_ORDER = ("family", "person", "case", "case_member", "casenote", "document", "consent", "consent_opt_out", "sharing_record", "access_log")


def marker_table(metadata: sa.MetaData) -> sa.Table:
    """The table that marks a store as synthetic and holds its manifest."""
    return sa.Table(
        MARKER_TABLE,
        metadata,
        sa.Column("seed", sa.Integer, primary_key=True),
        sa.Column("families", sa.Integer, nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        extend_existing=True,
    )


@dataclass
class GenerationResult:
    store: str
    seed: int
    families: int
    as_of: str
    clean: bool
    counts: dict[str, int]
    objects: int
    problems: dict[str, list[str]]
    planned: dict[str, int]
    tally: dict[str, int] = field(default_factory=dict)

    def problem_counts(self) -> dict[str, int]:
        return {kind: len(self.problems.get(kind, [])) for kind in DEFECT_KINDS + VIOLATION_KINDS}

    def to_json(self) -> dict:
        data = asdict(self)
        data["problem_counts"] = self.problem_counts()
        return data


def _professionals(seed: int, families: int) -> tuple[Professional, ...]:
    rng = random.Random(f"professionals:{seed}")
    pool = []
    for n in range(max(8, families // 15)):
        job, organisation = rng.choice(vocab.PROFESSIONAL_ROLES)
        pool.append(Professional(f"S{n:06d}", rng.choice(vocab.GIVEN_NAMES_ADULT), rng.choice(vocab.FAMILY_NAMES), job, organisation))
    return tuple(pool)


def generate_store(
    store: CaseStore,
    objects: ObjectStore,
    *,
    families: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    clean: bool = False,
    chunk_families: int = 500,
    progress: Callable[[int], None] | None = None,
) -> GenerationResult:
    """Generate ``families`` fictional families into an empty ``store``."""
    store.create_schema()
    marker = marker_table(store.metadata)
    marker.create(store.engine, checkfirst=True)
    skip = frozenset() if "early_help" in store.mapping.case_types else frozenset({"missing_privacy_notice"})
    plan = make_plan(families, seed, clean=clean, skip=skip)
    ctx = FamilyContext(
        seed=seed,
        as_of=as_of,
        case_types=store.mapping.case_types,
        professionals=_professionals(seed, families),
        object_prefix=f"stores/{store.name}/",
        records_reopening=store.has_field("case", "reopened_on"),
    )
    counts: Counter = Counter()
    tally: Counter = Counter()
    problems: dict[str, list[str]] = {}
    object_count = 0
    buffers: dict[str, list[dict]] = {e: [] for e in _ENTITY_ORDER}
    buffers["person"].extend(
        {"id": p.id, "family_id": None, "role": "professional", "given_name": p.given_name, "family_name": p.family_name,
         "organisation": p.organisation, "research_opt_out": False}
        for p in ctx.professionals
    )

    # Document writes are I/O-bound (fsync locally, HTTP on S3): a few threads
    # overlap them. Each chunk waits for its writes, so memory stays bounded.
    writer = ThreadPoolExecutor(max_workers=8, thread_name_prefix="seed-objects")
    pending: list[Future] = []

    def flush() -> None:
        for future in pending:
            future.result()
        pending.clear()
        with store.engine.begin() as conn:
            for entity in _ENTITY_ORDER:
                rows = buffers[entity]
                if rows and store.has(entity):
                    counts[entity] += store.insert(conn, entity, rows)
                rows.clear()

    try:
        for index in range(families):
            family = build_family(index, ctx, plan.problem_for(index))
            for entity, rows in family.rows.items():
                buffers[entity].extend(rows)
            for key, data in family.documents:
                pending.append(writer.submit(objects.put, key, data))
                object_count += 1
            for kind, ids in family.problems.items():
                problems.setdefault(kind, []).extend(ids)
            tally.update(family.tally)
            if (index + 1) % chunk_families == 0:
                flush()
                if progress:
                    progress(index + 1)
        flush()
    finally:
        writer.shutdown(wait=True)
    if progress:
        progress(families)

    result = GenerationResult(
        store=store.name,
        seed=seed,
        families=families,
        as_of=as_of.isoformat(),
        clean=clean,
        counts={e: counts.get(e, 0) for e in _ENTITY_ORDER if store.has(e)},
        objects=object_count,
        problems={k: sorted(v) for k, v in sorted(problems.items())},
        planned=plan.planned,
        tally=dict(sorted(tally.items())),
    )
    with store.engine.begin() as conn:
        conn.execute(marker.insert(), {"seed": seed, "families": families, "manifest": json.dumps(result.to_json(), sort_keys=True)})
    return result
