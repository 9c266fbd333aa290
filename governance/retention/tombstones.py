"""Tombstones: keyed hashes of destroyed identifiers.

When a backup is restored, destroyed cases come back. A tombstone is the
HMAC-SHA256 of ``entity:identifier`` under a key only the platform holds, so the
tombstone table reveals nothing about who was destroyed, yet a later sweep can
recognise a returning case and destroy it again (rule ``tombstone``).

The key is one shared data key (:mod:`governance.keyprovider.shared`), so every
host computes the same tokens: a plan on the admin host recognises tombstones a
worker wrote. ``governance keys init`` makes it once in a deployment.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from governance.db import one_of, values_of
from governance.keyprovider import SharedKeys
from governance.retention import tables
from governance.stores.store import CaseStore

__all__ = ["tombstone_key", "token", "add_tombstones", "resurrected_among", "KEY_NAME"]

KEY_NAME = "retention-tombstones"


def tombstone_key(keys: SharedKeys) -> bytes:
    return keys.data_key(KEY_NAME)


def token(key: bytes, entity: str, identifier: str) -> str:
    return hmac.new(key, f"{entity}:{identifier}".encode(), hashlib.sha256).hexdigest()


def _tokens(key: bytes, entity: str, ids: Iterable[str]) -> list[str]:
    base = hmac.new(key, digestmod=hashlib.sha256)  # keyed once, copied per identifier
    out = []
    for identifier in ids:
        h = base.copy()
        h.update(f"{entity}:{identifier}".encode())
        out.append(h.hexdigest())
    return out


def add_tombstones(conn: Connection, key: bytes, *, store: str, batch_id: str, entity: str, ids: Iterable[str]) -> int:
    """Record tombstones for these identifiers; ones already recorded (a case destroyed twice) are kept as they are."""
    tokens = _tokens(key, entity, ids)
    if not tokens:
        return 0
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        # One INSERT ... SELECT over the tokens bound as one value, no read first: the primary key
        # (store, entity, token) turns a repeat into a no-op. An executemany spent ~15 us per row
        # in SQLAlchemy's parameter handling, more than the insert itself.
        from importlib import import_module

        given = values_of(tokens, dialect)
        rows = sa.select(sa.literal(store), sa.literal(entity), given.c.value, sa.literal(batch_id))
        # SQLite reads "FROM json_each(?) ON CONFLICT" as a join constraint without a WHERE in between.
        insert = import_module(f"sqlalchemy.dialects.{dialect}").insert(tables.tombstones)
        statement = insert.from_select(["store", "entity", "token", "batch_id"], rows.where(sa.true()))
        # SQLAlchemy keeps an INSERT's row count only when asked (it is the number actually added).
        return conn.execute(statement.on_conflict_do_nothing(), execution_options={"preserve_rowcount": True}).rowcount
    existing = set(conn.execute(sa.select(tables.tombstones.c.token).where(
        tables.tombstones.c.store == store, tables.tombstones.c.entity == entity,
        one_of(tables.tombstones.c.token, tokens, dialect))).scalars())
    fresh = [{"store": store, "entity": entity, "token": t, "batch_id": batch_id} for t in tokens if t not in existing]
    if fresh:
        conn.execute(tables.tombstones.insert(), fresh)
    return len(fresh)


def resurrected_among(store: CaseStore, state: Engine, key: bytes, case_ids: list[str]) -> frozenset[str]:
    """Of these cases (a window of the store), those whose identifiers were destroyed before."""
    tokens = dict(zip(_tokens(key, "case", case_ids), case_ids))
    if not tokens:
        return frozenset()
    with state.connect() as conn:
        dead = conn.execute(sa.select(tables.tombstones.c.token).where(
            tables.tombstones.c.store == store.name, tables.tombstones.c.entity == "case",
            one_of(tables.tombstones.c.token, list(tokens), conn.dialect.name))).scalars()
        return frozenset(tokens[t] for t in dead)
