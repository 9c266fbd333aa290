"""The ledger's database plumbing: engines that take the write lock up front or cannot write at all.

- :func:`sqlite_write_transactions`: SQLite writers ``BEGIN IMMEDIATE`` so the
  head is read under the write lock (the chain never forks);
- :func:`read_only_engine`: ``audit verify`` on a read-only copy;
- :class:`Borrowed`: a caller's transaction, used as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from governance.db import make_engine, safe_url
from governance.errors import ConfigError, LedgerError

__all__ = ["WRITE_OPTION", "Borrowed", "read_only_engine", "sqlite_write_transactions"]

WRITE_OPTION = "governance_ledger_write"  # execution option: this connection writes


def sqlite_write_transactions(engine: sa.Engine) -> None:
    """Let SQLAlchemy, not the driver, begin SQLite transactions; writers BEGIN IMMEDIATE.

    pysqlite otherwise begins lazily at the first INSERT, after the head was
    read outside any transaction; IMMEDIATE takes the write lock up front.
    """

    @sa.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def read_only_engine(url: str) -> sa.Engine:
    """An engine that cannot write: SQLite ``mode=ro`` (``immutable=1`` if the file's
    WAL cannot be opened read-only), PostgreSQL ``READ ONLY`` transactions."""
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # noqa: BLE001 - one line, as make_engine says it
        raise ConfigError(f"database URL is malformed: {safe_url(url)}") from exc
    if parsed.get_backend_name() != "sqlite":
        return make_engine(url, create_folder=False)
    path = Path(parsed.database or "").resolve()
    if not path.is_file():  # never create it: even immutable=1 alone would make an empty file
        raise LedgerError(f"no ledger database at {safe_url(url)}")
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        engine = sa.create_engine(f"sqlite:///file:{path}?{flags}&uri=true", connect_args={"timeout": 30})
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
            return engine
        except sa.exc.OperationalError:
            engine.dispose()
    return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")


class Borrowed:
    """A caller's connection used as is: no begin, no commit (the caller owns the transaction)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sa.Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        return None
