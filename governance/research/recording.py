"""Research state changes and their ledger entries, through the one unit of work.

:func:`recorded` is a :class:`~governance.unit.Unit` transaction on the state
database, write-locked on SQLite: the research capability's ledger entries
(:meth:`~governance.unit.Work.append`) commit in the same transaction as the
state change they record when the ledger shares the state database, so a study
is never marked ended without its entry, nor an entry written for a change that
rolled back. With a separate ledger database they are appended right after the
state commit.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa

from governance.config import Settings
from governance.unit import Unit, Work

__all__ = ["recorded", "lock_for_write", "RULE"]

#: The rule every research ledger entry cites: the promise made to families (seed 001).
RULE = "seed-001:research-anonymised-then-destroyed"


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
def recorded(settings: Settings) -> Iterator[Work]:
    """A state transaction (write-locked on SQLite) whose ledger entries commit with it."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        lock_for_write(work.conn)
        yield work
