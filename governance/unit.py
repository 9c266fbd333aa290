"""One unit of work: settings become handles once, and a state change commits with its ledger entry.

Before this, six capabilities each opened the store, state, ledger, objects and
keys their own way and built "a state change and its ledger entry commit
together" and "append once across retries" themselves (docs: shared review,
"one unit of work"). :class:`Unit` is the one place (sar, research, quality,
sharing, the foundation and hand-over jobs and the CLI use it; retention's
``RetentionContext`` does not yet):

- handles, opened lazily and once: :attr:`state` (engine), :attr:`ledger`,
  :attr:`objects`, :attr:`keys` (data keys shared by every host), :meth:`store`;
- :meth:`transaction`: a state transaction. Entries appended through it
  (:meth:`Work.append`, :meth:`Work.append_once`) commit in the *same*
  transaction when the ledger shares the state database (the default): a
  change is never recorded without its entry, nor an entry for a change that
  rolled back. With a separate ledger database they are appended right after the
  state commit (and an ``append_once`` retry finds them);
- :meth:`Work.append_once` ``(key=...)``: at most one entry per action and key,
  however often a task is retried; the key is kept in the entry's details as
  ``once``;
- :meth:`Work.append_once_now` ``(key=...)``: the same, for a state change that
  must name its entry (a disclosure row, a compliance run keep the seq) or must
  never lose it: the seq is known inside the transaction. With a separate ledger
  the entry is therefore written *before* the state commits ("recorded first"):
  if the state then rolls back, the retry finds the entry by its key instead of
  writing a second one, and a crash after the commit cannot leave a change
  without its entry.

Usage::

    with Unit.open(settings) as unit, unit.transaction() as work:
        work.conn.execute(...)                       # the state change
        seq = work.append_once(key=f"disclosed:{rid}", actor=..., action=..., ...)
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import sqlalchemy as sa

from governance.config import Settings

__all__ = ["Unit", "Work", "open_ledger"]


def open_ledger(settings: Settings):
    """The ledger the settings name, to write to; a named SQLite ledger that does not exist is
    refused, never created (:func:`governance.state.refuse_new_database`)."""
    from governance.keys import KeyStore
    from governance.ledger import Ledger
    from governance.state import refuse_new_database

    if settings.databases_named:
        refuse_new_database(settings.ledger_url, "ledger database", "GOVERNANCE_LEDGER_URL")
    return Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))


@dataclass
class Work:
    """The open state transaction and the ledger entries that go with it."""

    unit: "Unit"
    conn: sa.Connection
    shared: bool  # the ledger is in the state database: entries join this transaction
    queued: list[dict[str, Any]] = field(default_factory=list)
    seqs: dict[str, int] = field(default_factory=dict)  # once-key -> seq, filled as entries are written

    def append(self, **event: Any) -> int | None:
        """Append one entry: now, in this transaction (its seq), or after the commit (None; see ``seqs``)."""
        if self.shared:
            return self.unit.ledger.append(connection=self.conn, **event).seq
        self.queued.append(event)
        return None

    def append_once(self, *, key: str, **event: Any) -> int | None:
        """Like :meth:`append`, unless an entry with this action and ``key`` exists: then its seq."""
        found = self._earlier(key, event["action"])
        if found is not None:
            return found
        if any(e["action"] == event["action"] and e.get("details", {}).get("once") == key for e in self.queued):
            return None
        seq = self.append(**_keyed(key, event))
        if seq is not None:
            self.seqs[key] = seq
        return seq

    def append_once_now(self, *, key: str, **event: Any) -> int:
        """Like :meth:`append_once`, but written now (with a separate ledger, before the state commits): its seq."""
        found = self._earlier(key, event["action"])
        if found is None:
            connection = self.conn if self.shared else None
            found = self.seqs[key] = self.unit.ledger.append(connection=connection, **_keyed(key, event)).seq
        return found

    def _earlier(self, key: str, action: str) -> int | None:
        found = self.unit.find_once(action, key, self.conn if self.shared else None)
        if found is not None:
            self.seqs[key] = found
        return found


def _keyed(key: str, event: dict[str, Any]) -> dict[str, Any]:
    """The event with its once-key in its details (where :meth:`Unit.find_once` looks)."""
    return {**event, "details": {**(event.get("details") or {}), "once": key}}


class Unit:
    """Handles for one job, opened from :class:`Settings` on first use; :meth:`close` releases them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ledger = None
        self._objects = None
        self._keys = None
        self._stores: dict[str, Any] = {}

    @classmethod
    def open(cls, settings: Settings) -> "Unit":
        return cls(settings)

    # -- handles ---------------------------------------------------------------------------

    @property
    def state(self) -> sa.Engine:
        from governance.state import state_engine

        return state_engine(self.settings)

    @property
    def ledger(self):
        if self._ledger is None:
            self._ledger = open_ledger(self.settings)
        return self._ledger

    @property
    def objects(self):
        if self._objects is None:
            from governance.storage import open_object_store

            self._objects = open_object_store(self.settings.objects_url, s3_endpoint_url=self.settings.s3_endpoint_url)
        return self._objects

    @property
    def keys(self):
        if self._keys is None:
            from governance.keyprovider import open_keys

            self._keys = open_keys(self.settings)
        return self._keys

    def store(self, name: str = "default"):
        if name not in self._stores:
            from governance.stores.store import CaseStore

            self._stores[name] = CaseStore.open(self.settings.store(name))
        return self._stores[name]

    # -- transactions ----------------------------------------------------------------------

    @property
    def ledger_shares_state(self) -> bool:
        return self.ledger.shares_database(self.state)

    @contextmanager
    def transaction(self) -> Iterator[Work]:
        shared = self.ledger_shares_state  # opens the ledger (its tables) before the state transaction
        with self.state.begin() as conn:
            work = Work(self, conn, shared)
            yield work
        if work.queued:
            for event, entry in zip(work.queued, self.ledger.append_many(work.queued)):
                once = (event.get("details") or {}).get("once")
                if once is not None:
                    work.seqs[once] = entry.seq

    def find_once(self, action: str, key: str, conn: sa.Connection | None = None) -> int | None:
        """The seq of the entry with this action whose details say ``once = key``, if any."""
        from governance.ledger.schema import entries_table as e

        query = (sa.select(e.c.seq, e.c.details)
                 .where(e.c.action == action, e.c.details.contains(json.dumps(key), autoescape=True))
                 .order_by(e.c.seq))
        if conn is not None:
            rows = conn.execute(query).all()
        else:
            with self.ledger.engine.connect() as reader:
                rows = reader.execute(query).all()
        for seq, details in rows:
            parsed = json.loads(details) if isinstance(details, str) else details
            if isinstance(parsed, dict) and parsed.get("once") == key:
                return int(seq)
        return None

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        for store in self._stores.values():
            store.engine.dispose()
        self._stores.clear()

    def __enter__(self) -> "Unit":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
