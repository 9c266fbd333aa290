"""Named data keys, wrapped by the key provider and kept in the state database.

Every worker of a deployment reads the same row, so the key that sealed a SAR
bundle on worker B is the key handed over by worker A, the tombstone key is the
same on every host, and a study's extract opens wherever its end is run.

Keys are made only by :meth:`SharedKeys.create`, called at the one step that
owns the key (building a bundle; ``governance keys init`` for the tombstone and
research master keys). Reading a key that is not there is an error naming it,
except in the embedded default, where a fresh single-machine installation keeps
working: there a key file an older version left in the keys folder is imported
once, else a key is made (as before).

Destroying a key (crypto-shredding) deletes its one wrapped copy and records the
name, so it is never made again under that name and a restored copy is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from contextlib import nullcontext
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from governance.errors import KeyMaterialError
from governance.keyprovider import tables as t
from governance.keyprovider.base import DATA_KEY_BYTES, KeyProvider

__all__ = ["SharedKeys", "data_key_id"]

_NAME = re.compile(r"^[a-z0-9_:.-]{1,80}$")


def data_key_id(key: bytes) -> str:
    """A data key's public id: 16 hex characters of SHA-256 (what a SAR manifest records)."""
    return hashlib.sha256(key).hexdigest()[:16]


def _check(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise KeyMaterialError(f"data key name {name!r} is not valid: use 1-80 of a-z, 0-9, _ : . and -")
    return name


class SharedKeys:
    """Data keys in the state database. ``implicit``: the embedded default may make a missing key on read."""

    def __init__(self, engine: sa.Engine, provider: KeyProvider, *, implicit: bool = False) -> None:
        self.engine = engine
        self.provider = provider
        self.implicit = implicit
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------

    def data_key(self, name: str, *, conn: sa.Connection | None = None) -> bytes:
        """The named key; :class:`KeyMaterialError` if it was never made or was destroyed.

        ``conn``: the caller's open state transaction (SQLite allows one writer: a
        key made in the embedded default joins it instead of waiting on it).
        """
        _check(name)
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        key = self._read(name, conn)
        if key is None:
            if self._destroyed(name, conn):
                raise KeyMaterialError(f"data key {name} was destroyed (crypto-shredded)")
            if not self.implicit:
                raise KeyMaterialError(f"data key {name} is not in the state database "
                                       "(never created here: run `governance keys init`, or the step that makes it)")
            legacy = getattr(self.provider, "legacy_key", lambda _n: None)(name)
            key = self._insert(name, legacy, conn)
        with self._lock:
            self._cache[name] = key
        return key

    def has(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.data_keys.c.name).where(t.data_keys.c.name == _check(name))).first() is not None

    def key_id(self, name: str) -> str:
        return data_key_id(self.data_key(name))

    # -- making and destroying ---------------------------------------------------------

    def create(self, name: str) -> bytes:
        """The named key, made now if it does not exist yet (idempotent: a retry gets the same key)."""
        _check(name)
        existing = self._read(name)
        if existing is not None:
            return existing
        if self._destroyed(name):
            raise KeyMaterialError(f"data key {name} was destroyed (crypto-shredded) and is not made again")
        return self._insert(name, None)

    def destroy_data_key(self, name: str, *, conn: sa.Connection | None = None) -> bool:
        """Delete the one wrapped copy and remember the name; False if there was no key."""
        _check(name)
        with self._lock:
            self._cache.pop(name, None)
        with (nullcontext(conn) if conn is not None else self.engine.begin()) as c:
            deleted = c.execute(t.data_keys.delete().where(t.data_keys.c.name == name)).rowcount
            if c.execute(sa.select(t.destroyed_keys.c.name).where(t.destroyed_keys.c.name == name)).first() is None:
                c.execute(t.destroyed_keys.insert().values(name=name, destroyed_at=datetime.now(timezone.utc)))
        legacy_destroy = getattr(self.provider, "forget_legacy_key", None)
        if legacy_destroy is not None:  # an older version's key file for this name goes too
            deleted += int(legacy_destroy(name))
        return bool(deleted)

    # -- rows ---------------------------------------------------------------------------

    def is_destroyed(self, name: str, *, conn: sa.Connection | None = None) -> bool:
        """Whether ``name`` was crypto-shredded."""
        return self._destroyed(_check(name), conn)

    def _connect(self, conn: sa.Connection | None):
        return nullcontext(conn) if conn is not None else self.engine.connect()

    def _destroyed(self, name: str, conn: sa.Connection | None = None) -> bool:
        with self._connect(conn) as c:
            return c.execute(sa.select(t.destroyed_keys.c.name)
                             .where(t.destroyed_keys.c.name == name)).first() is not None

    def _read(self, name: str, conn: sa.Connection | None = None) -> bytes | None:
        with self._connect(conn) as c:
            row = c.execute(sa.select(t.data_keys.c.wrapped, t.data_keys.c.master_key_id, t.data_keys.c.key_id)
                               .where(t.data_keys.c.name == name)).first()
        if row is None:
            return None
        key = self.provider.unwrap(row.wrapped, name)
        if data_key_id(key) != row.key_id:
            raise KeyMaterialError(f"data key {name} unwraps to a key other than the one recorded ({row.key_id})")
        return key

    def _insert(self, name: str, key: bytes | None, conn: sa.Connection | None = None) -> bytes:
        key = key if key is not None else os.urandom(DATA_KEY_BYTES)
        row = {"name": name, "key_id": data_key_id(key), "provider": self.provider.name,
               "master_key_id": self.provider.master_key_id, "wrapped": self.provider.wrap(key, name),
               "created_at": datetime.now(timezone.utc)}
        try:
            with (conn.begin_nested() if conn is not None else self.engine.begin()) as c:
                (conn if conn is not None else c).execute(t.data_keys.insert().values(**row))
        except IntegrityError:  # another worker made it first: theirs is the key
            theirs = self._read(name, conn)
            if theirs is None:
                raise KeyMaterialError(f"data key {name} could not be stored") from None
            return theirs
        return key
