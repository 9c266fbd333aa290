"""Ledger entries for access requests, written once, in the state transaction when they share a database.

:func:`session` opens the ledger (creating its tables first) and a transaction
on the state database. :func:`record_once` appends an entry unless one with
the same action, request and ``tag`` exists, so a retried task never records
twice; when the state tables live in the ledger's database (the default) the
entry commits or rolls back with the state change.
"""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import sqlalchemy as sa

from governance.config import Settings
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.ledger.schema import entries_table
from governance.state import state_engine

__all__ = ["session", "record_once"]


@contextmanager
def session(settings: Settings) -> Iterator[tuple[Ledger, sa.Connection]]:
    """(the ledger, a transaction on the state database), both closed on the way out."""
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))  # ledger tables first
    try:
        with state_engine(settings).begin() as conn:
            yield ledger, conn
    finally:
        ledger.close()


def record_once(settings: Settings, ledger: Ledger, conn: sa.Connection, *, tag: str, request_id: str, **event: Any) -> int:
    """Append one ledger entry, once per ``tag`` (a retry finds the first)."""
    same = settings.state_database_url == settings.ledger_url
    query = sa.select(entries_table.c.seq).where(
        entries_table.c.action == event["action"],
        entries_table.c.record_ids.contains(json.dumps(request_id), autoescape=True),
        entries_table.c.details.contains(json.dumps(tag), autoescape=True),
    )
    with (nullcontext(conn) if same else ledger.engine.connect()) as reader:
        found = reader.execute(query).first()
    if found is not None:
        return int(found[0])
    details = {**event.pop("details", {}), "tag": tag}
    return ledger.append(details=details, connection=conn if same else None, **event).seq
