"""Seed a configured store with fictional families, safely and idempotently.

The generator only ever writes to a store it created: a store holding rows
without the synthetic marker is refused, so a real case store can never be
seeded over or replaced by mistake. Seeding again with the same seed and size
returns the existing manifest instead of writing twice (safe for task retries).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Callable

import sqlalchemy as sa

from governance.config import Settings
from governance.errors import ConfigError
from governance.storage import ObjectStore, open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic.generator import DEFAULT_AS_OF, MARKER_TABLE, generate_store, marker_table

__all__ = ["seed_store", "read_manifest", "open_objects"]


def open_objects(settings: Settings) -> ObjectStore:
    return open_object_store(settings.objects_url, s3_endpoint_url=settings.s3_endpoint_url)


def read_manifest(store: CaseStore) -> dict | None:
    """The manifest the generator left in the store, or None if it did not seed it."""
    inspector = sa.inspect(store.engine)
    if not inspector.has_table(MARKER_TABLE, schema=store.mapping.schema):
        return None
    table = marker_table(sa.MetaData(schema=store.mapping.schema))
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table.c.manifest)).first()
    return json.loads(row.manifest) if row else None


def _holds_rows(store: CaseStore) -> bool:
    inspector = sa.inspect(store.engine)
    with store.engine.connect() as conn:
        for entity in ("case", "person"):
            table = store.table(entity)
            if inspector.has_table(table.name, schema=table.schema):
                if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                    return True
    return False


def _drop(store: CaseStore, objects: ObjectStore) -> None:
    store.metadata.drop_all(store.engine, checkfirst=True)
    marker_table(sa.MetaData(schema=store.mapping.schema)).drop(store.engine, checkfirst=True)
    for key in list(objects.list(f"stores/{store.name}/")):
        objects.delete(key)


def summary(manifest: dict, *, reused: bool) -> dict:
    """What a task or the CLI reports: counts and identifiers only."""
    return {
        "store": manifest["store"],
        "seed": manifest["seed"],
        "families": manifest["families"],
        "as_of": manifest["as_of"],
        "clean": manifest["clean"],
        "rows": manifest["counts"],
        "documents": manifest["objects"],
        "problems": manifest["problem_counts"],
        "reused": reused,
    }


def seed_store(
    settings: Settings,
    store_name: str = "default",
    *,
    families: int,
    seed: int,
    as_of: date = DEFAULT_AS_OF,
    clean: bool = False,
    replace: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Seed one configured store; return counts (no record content)."""
    if families < 1:
        raise ConfigError(f"--families must be at least 1, got {families}")
    store = CaseStore.open(settings.store(store_name))
    objects = open_objects(settings)
    existing = read_manifest(store)
    if existing is not None:
        same = (existing["seed"], existing["families"], existing["clean"], existing["as_of"]) == (
            seed, families, clean, as_of.isoformat())
        if same and not replace:
            return summary(existing, reused=True)
        if not replace:
            raise ConfigError(
                f"store {store_name} already holds synthetic seed {existing['seed']} "
                f"({existing['families']} families); pass --replace to regenerate it"
            )
        _drop(store, objects)
    elif _holds_rows(store):
        raise ConfigError(f"store {store_name} holds data the generator did not write; refusing to seed it")
    result = generate_store(store, objects, families=families, seed=seed, as_of=as_of, clean=clean, progress=progress)
    return summary(result.to_json(), reused=False)
