"""State changes and their ledger entries, committed together.

When the state tables live in the ledger's database (the default), the
research capability's ledger entries are appended inside the same transaction
as the state change they record (``Ledger.append_many(connection=)``): a study
is never marked ended without its entry, nor an entry written for a change that
rolled back. With a separate state database the entries are appended right
after the state commit.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import sqlalchemy as sa

from governance.config import Settings
from governance.keys import KeyStore
from governance.ledger import Ledger, LedgerEntry
from governance.state import state_engine

__all__ = ["Recorder", "recorded", "lock_for_write", "RULE"]

#: The rule every research ledger entry cites: the promise made to families (seed 001).
RULE = "seed-001:research-anonymised-then-destroyed"


@dataclass
class Recorder:
    """The open state transaction, and the ledger events to commit with it."""

    conn: sa.Connection
    events: list[dict[str, Any]] = field(default_factory=list)
    entries: list[LedgerEntry] = field(default_factory=list)

    def log(self, *, actor: str, action: str, **event: Any) -> None:
        """Queue one ledger entry (identifiers and counts only: see docs/ledger.md)."""
        self.events.append({"actor": actor, "action": action, **event})


def lock_for_write(conn: sa.Connection) -> None:
    """On SQLite, take the write lock now (a no-op UPDATE), so reads in this transaction cannot go stale.

    A deferred SQLite transaction that reads and later writes fails with
    "database is locked" if another writer committed in between; taking the
    lock first turns that into a wait (busy timeout).
    """
    if conn.dialect.name == "sqlite":
        from governance.research.tables import studies

        conn.execute(studies.update().where(sa.false()).values(status=studies.c.status))


@contextmanager
def recorded(settings: Settings) -> Iterator[Recorder]:
    """A state transaction (write-locked on SQLite) whose queued ledger events commit with it."""
    same_database = settings.state_database_url == settings.ledger_url
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        with state_engine(settings).begin() as conn:
            lock_for_write(conn)
            recorder = Recorder(conn)
            yield recorder
            if recorder.events and same_database:
                recorder.entries = ledger.append_many(recorder.events, connection=conn)
        if recorder.events and not same_database:
            recorder.entries = ledger.append_many(recorder.events)
    finally:
        ledger.close()
