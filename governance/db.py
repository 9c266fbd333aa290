"""Engines for the platform's databases (case stores, ledger).

SQLite files get their folder created and sensible pragmas; connection failures
become :class:`~governance.errors.StoreUnavailable` naming the URL without its
password. A SQLite file is created 0600 in a 0700 folder before SQLite first opens
it: SQLite gives its -wal, -shm and -journal files the database file's mode, so
the whole database stays private to the platform's user whatever the umask.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from governance.config import private_folder
from governance.errors import ConfigError, StoreUnavailable

__all__ = ["make_engine", "safe_url", "check_reachable", "chunked", "one_of", "values_of", "IdSet", "database_identity",
           "same_database", "IN_LIST_CHUNK", "ALEMBIC_RUN_LOCK", "at_revision", "upgrade_to_head"]

# Bounded IN (...) lists and insert batches: well under SQLite's and psycopg's parameter limits.
IN_LIST_CHUNK = 500
T = TypeVar("T")


def chunked(items: Iterable[T], size: int = IN_LIST_CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order (for IN lists and batched writes)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class IdSet:
    """Ids encoded once for several statements: :func:`one_of` and :func:`values_of` take it as a list.

    A chunk binds the same few thousand ids in a dozen statements; encoding them
    once saves a list copy and a JSON encoding per statement.
    """

    __slots__ = ("values", "_json")

    def __init__(self, ids: Iterable[str]) -> None:
        self.values = [str(i) for i in ids]
        self._json: str | None = None

    def __len__(self) -> int:
        return len(self.values)

    def as_json(self) -> str:
        if self._json is None:
            self._json = json.dumps(self.values)
        return self._json


def one_of(column: sa.ColumnElement, ids: Iterable[str] | IdSet, dialect: str) -> sa.ColumnElement[bool]:
    """``column IN ids`` bound as a single parameter, for id sets of any size.

    An expanding ``IN (?, ?, ...)`` costs SQLAlchemy a compile per distinct
    length and needs chunking under the drivers' parameter limits; here the ids
    travel as one value: a JSON array read by ``json_each`` on SQLite, an array
    compared with ``= ANY`` on PostgreSQL (both use the column's index). Other
    databases get a plain ``IN``.
    """
    given = ids if isinstance(ids, IdSet) else IdSet(ids)
    if not given.values:
        return sa.false()
    if dialect == "sqlite":
        return column.in_(sa.select(values_of(given, dialect).c.value))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, given.values, type_=ARRAY(sa.String)))
    return column.in_(given.values)


def values_of(values: Iterable[str] | IdSet, dialect: str) -> sa.TableValuedAlias | sa.Values:
    """The strings as rows of a one-column table (column ``value``), bound as a single parameter.

    For set-based writes: ``INSERT ... SELECT ... FROM values_of(...)`` is one
    statement whatever the number of rows, without the per-row parameter
    handling of an executemany (``json_each`` on SQLite, ``unnest`` of an array
    on PostgreSQL, a ``VALUES`` list elsewhere).
    """
    given = values if isinstance(values, IdSet) else IdSet(values)
    if dialect == "sqlite":
        return sa.func.json_each(sa.bindparam(None, given.as_json(), type_=sa.String)).table_valued("value")
    values = given.values
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        # render_derived names the column: "unnest(...) AS given(value)".
        return sa.func.unnest(sa.bindparam(None, values, type_=ARRAY(sa.String))).table_valued("value").render_derived(
            name="given")
    return sa.values(sa.column("value", sa.String), name="given").data([(v,) for v in values])


def database_identity(url) -> tuple:
    """What names one database: backend, host, port and database (a SQLite file by its real path)."""
    import os

    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        database = os.path.realpath(database)
    return (url.get_backend_name(), url.host, url.port, database)


def same_database(a: Engine, b: Engine) -> bool:
    """Whether two engines reach the same database (so one transaction can span what both hold)."""
    return database_identity(a.url) == database_identity(b.url)


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is reported by make_engine
        return "<malformed url>"


def sqlite_file_missing(url: str) -> bool:
    """True for a SQLite URL whose database file does not exist (creating an engine would make it)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return False  # make_engine names a malformed URL in its own words
    database = (parsed.database or "").removeprefix("file:").split("?")[0]
    return parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not Path(database).exists()


def make_engine(url: str, *, create_folder: bool = True) -> Engine:
    """Create an engine; for SQLite, create the file's folder and enable WAL."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"database URL is malformed: {safe_url(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and create_folder:
            _private_sqlite_file(Path(database))
        engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            try:
                _ensure_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
            finally:
                cursor.close()

        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True)
    except Exception as exc:  # noqa: BLE001 - missing driver, bad options
        raise ConfigError(f"cannot use database {safe_url(url)}: {type(exc).__name__}") from exc


def _private_sqlite_file(path: Path) -> None:
    """Create the database's folder (0700) and an empty file (0600) if missing; tighten a new folder's mode."""
    try:
        private_folder(path.parent)
        if not path.exists():
            # O_EXCL: a racing process that created it first keeps its file; SQLite reads an empty file as a new database.
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
    except OSError as exc:
        raise StoreUnavailable(f"database file {path} cannot be created: {exc.strerror or type(exc).__name__}") from None


def _ensure_wal(cursor) -> None:
    """Switch the file to WAL once (it persists in the file).

    Changing the journal mode needs the database to itself and does not wait
    on the busy handler, so connections racing on a new file retry briefly.
    """
    import sqlite3
    import time

    for attempt in range(50):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.05 * (attempt + 1))


def check_reachable(engine: Engine) -> None:
    """Open one connection, or raise StoreUnavailable naming the database."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        raise StoreUnavailable(
            f"database {safe_url(str(engine.url))} is unreachable ({type(exc).__name__})"
        ) from exc


# -- migration chains (the ledger's and the state's) ------------------------------------

# Alembic keeps the running migration in module globals (alembic.context, alembic.op): two
# threads migrating at once in one process, even different chains on different databases (the
# ledger's and the state's), would run each other's operations. Every Alembic run holds this.
# Rule: take it *before* a database's migration lock (advisory lock, SQLite write lock), never
# after, or two threads could each hold one and wait for the other. Re-entrant, so a caller
# holding it may call code that takes it again.
ALEMBIC_RUN_LOCK = threading.RLock()


def at_revision(connection: sa.Connection, version_table: str, revision: str) -> bool:
    """Whether a migration chain's version table says exactly ``revision`` (a plain read)."""
    if not sa.inspect(connection).has_table(version_table):
        return False
    current = connection.execute(sa.text(f"SELECT version_num FROM {version_table}")).scalars().all()
    return current == [revision]


def upgrade_to_head(connection: sa.Connection, script_location: Path) -> None:
    """Run a migration chain to head on ``connection``, inside its transaction (Alembic does not commit it).

    The caller holds the database's migration lock, taken after :data:`ALEMBIC_RUN_LOCK`.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    with ALEMBIC_RUN_LOCK:
        command.upgrade(config, "head")
