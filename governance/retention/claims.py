"""One sweep or execution per store at a time: a claim the state database enforces.

Two processes sweeping one store, or executing one batch, would each decide,
delete and record the same cases: doubled completions, two certificates, an
``IntegrityError`` for the slower one. Process timing (``max_active_runs``,
"nobody runs two at once") does not prevent that; the data does:

- the claim is a row of ``retention_claims`` whose primary key is the store:
  the database lets exactly one claimant hold it;
- a claimant that died (SIGKILL, a lost worker) must not block the store for
  ever, and its unfinished batch must be finished by the next sweep. So a
  claimant proves it is alive by a lock the database drops with it:
  on **PostgreSQL** a session advisory lock on a connection held for the
  claim's lifetime (released by the server when the session ends, on any host);
  on **SQLite** (one host by nature: the file is local) the row is taken inside
  ``BEGIN IMMEDIATE`` and a row left by a process that no longer exists (pid and
  that process's start time) is taken over.

The loser gets :class:`StoreBusy`: one line naming the store, what holds it and
since when; the CLI prints it and exits 2; nothing was changed.

Claims are re-entrant within a thread (a sweep holds the store and executes a
batch inside it), counted per state database, store and thread; another thread
of the same process is another claimant.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.errors import GovernanceError
from governance.retention import tables

__all__ = ["StoreBusy", "claim_store", "current_claim"]


class StoreBusy(GovernanceError):
    """Another live process sweeps or executes this store; this one changed nothing."""


_held: dict[tuple[str, str, int], list] = {}  # (state url, store, thread) -> [depth, token, pg connection or None]
_lock = threading.Lock()


def _process_started(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # Field 22; the command name (field 2) is in parentheses and may contain spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(host: str, pid: int, started: str | None) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell from here: assume alive (SQLite state is one host's file anyway)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now_started = _process_started(pid)
    return started is None or now_started is None or now_started == started


def _advisory_key(store: str) -> int:
    digest = hashlib.sha256(f"retention-claim:{store}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _busy(store: str, row) -> StoreBusy:
    if row is None:
        return StoreBusy(f"store {store} is being swept or executed by another process: this run changed nothing; "
                         "run it again when that one has finished")
    return StoreBusy(f"store {store} is held by {row.purpose} (by {row.holder}, pid {row.pid} on {row.host}, since "
                     f"{row.claimed_at:%Y-%m-%d %H:%M:%S}): this run changed nothing; run it again when that one "
                     "has finished")


def _row(conn: sa.Connection, store: str):
    return conn.execute(sa.select(tables.claims).where(tables.claims.c.store == store)).first()


def _values(store: str, token: str, purpose: str, holder: str) -> dict:
    return {"store": store, "token": token, "purpose": purpose[:80], "holder": holder[:100],
            "host": socket.gethostname()[:100], "pid": os.getpid(), "process_started": _process_started(os.getpid()),
            "claimed_at": datetime.now(timezone.utc)}


def _take_postgresql(state: Engine, store: str, token: str, purpose: str, holder: str) -> sa.Connection:
    session = state.connect()
    try:
        got = session.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _advisory_key(store)}).scalar_one()
        session.commit()
        if not got:
            with state.connect() as conn:
                raise _busy(store, _row(conn, store))
        # Alive claimants hold the advisory lock, so a row here was left by a dead one: replace it.
        with state.begin() as conn:
            conn.execute(tables.claims.delete().where(tables.claims.c.store == store))
            conn.execute(tables.claims.insert().values(**_values(store, token, purpose, holder)))
        return session
    except BaseException:
        session.close()
        raise


def _take_sqlite(state: Engine, store: str, token: str, purpose: str, holder: str) -> None:
    with state.connect() as conn:
        conn.begin()
        if not conn.connection.dbapi_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before the row is read
        row = _row(conn, store)
        # A row of this very process that it no longer holds (a release that failed) is stale too.
        own_leftover = (row is not None and row.pid == os.getpid() and row.host == socket.gethostname()
                        and row.token not in {entry[1] for entry in _held.values()})
        if row is not None and not own_leftover and _alive(row.host, row.pid, row.process_started):
            conn.rollback()
            raise _busy(store, row)
        conn.execute(tables.claims.delete().where(tables.claims.c.store == store))
        conn.execute(tables.claims.insert().values(**_values(store, token, purpose, holder)))
        conn.commit()


def _release(state: Engine, store: str, token: str, session: sa.Connection | None) -> None:
    try:
        with state.begin() as conn:
            conn.execute(tables.claims.delete().where(tables.claims.c.store == store, tables.claims.c.token == token))
    finally:
        if session is not None:
            try:
                session.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _advisory_key(store)})
                session.commit()
            finally:
                session.close()


@contextmanager
def claim_store(state: Engine, store: str, *, purpose: str, holder: str) -> Iterator[str]:
    """Hold ``store`` for the block (re-entrant in this process); raises :class:`StoreBusy` if another holds it."""
    # Re-entrant per thread: another thread of this process is another claimant.
    key = (state.url.render_as_string(hide_password=True), store, threading.get_ident())
    with _lock:
        entry = _held.get(key)
        if entry is not None:
            entry[0] += 1
    if entry is not None:
        try:
            yield entry[1]
        finally:
            with _lock:
                entry[0] -= 1
        return
    token = str(uuid.uuid4())
    if state.dialect.name == "postgresql":
        session = _take_postgresql(state, store, token, purpose, holder)
    else:
        _take_sqlite(state, store, token, purpose, holder)
        session = None
    with _lock:
        _held[key] = [1, token, session]
    try:
        yield token
    finally:
        with _lock:
            _held[key][0] -= 1
            last = _held[key][0] == 0
            if last:
                del _held[key]
        if last:
            _release(state, store, token, session)


def current_claim(state: Engine, store: str) -> dict | None:
    """The claim on ``store`` as recorded (for messages and tests), or None."""
    with state.connect() as conn:
        row = _row(conn, store)
    return None if row is None else {k: row._mapping[k] for k in ("purpose", "holder", "host", "pid", "claimed_at")}
