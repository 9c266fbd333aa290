"""Platform state: the tables capabilities keep beside the ledger.

Holds, quarantine, access requests, studies, findings and disposition batches
are the platform's own records (not case-store content). They live in one
database, by default the ledger's (``Settings.state_database_url``), so that a
job can commit state changes and their ledger entries in one transaction.

Each capability declares its tables on :data:`METADATA` in its own
``tables`` module (table names prefixed with the capability: ``retention_``,
``quality_``, ``sar_``, ``research_``, ``sharing_``) and lists it in
``TABLE_MODULES``.

The tables are created and upgraded only by the Alembic chain in
``governance/state_migrations`` (version table ``state_alembic_version``, so
the chain shares a database with the ledger's and a case store's without
touching either). :func:`ensure_schema` runs it to head; a test compares the
migrated database with :data:`METADATA`, so a model change without a
migration fails.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.config import Settings
from governance.errors import ConfigError, StoreUnavailable
from governance.db import ALEMBIC_RUN_LOCK, at_revision, make_engine, safe_url, sqlite_file_missing, upgrade_to_head

__all__ = [
    "METADATA", "TABLE_MODULES", "VERSION_TABLE", "HEAD_REVISION", "MIGRATIONS_DIR",
    "load_table_modules", "is_state_name", "upgrade", "ensure_schema", "state_engine",
]

METADATA = sa.MetaData()
TABLE_MODULES = (
    "governance.retention.tables",
    "governance.quality.tables",
    "governance.sar.tables",
    "governance.research.tables",
    "governance.sharing.tables",
    "governance.keyprovider.tables",
)
VERSION_TABLE = "state_alembic_version"
HEAD_REVISION = "0005_shared_keys"
MIGRATIONS_DIR = Path(__file__).with_name("state_migrations")

# pg_advisory_xact_lock key: "state" in ASCII (the ledger's keys spell "ledger").
_MIGRATE_LOCK = 0x7374617465
_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def load_table_modules() -> None:
    """Import every capability's ``tables`` module, so :data:`METADATA` is complete."""
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A capability not installed in this build has no tables; any other
            # missing import is a real error and must surface.
            if exc.name is None or not module.startswith(exc.name):
                raise


def is_state_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic ``include_name`` filter: state tables only.

    By name in :data:`METADATA`, not by prefix: a case store has a
    ``sharing_records`` table, and the ledger's tables share the database.
    Dropping a state table therefore needs a migration written by hand.
    """
    return type_ != "table" or name in METADATA.tables


def _at_head(connection: sa.Connection) -> bool:
    return at_revision(connection, VERSION_TABLE, HEAD_REVISION)


def _take_migration_lock(connection: sa.Connection) -> None:
    """Serialise migrators until the transaction ends, so a second one finds the work done."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
    elif connection.dialect.name == "sqlite":
        # pysqlite begins lazily (at the first INSERT), so this is the transaction's
        # real BEGIN: IMMEDIATE takes the write lock before the version is read,
        # and a second opener waits on the busy timeout instead of failing. An
        # engine that begins transactions itself (as the ledger's does) has
        # already begun one; its first write takes the lock instead.
        if not connection.connection.dbapi_connection.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(connection: sa.Connection) -> None:
    """Run the state migrations to head on ``connection`` inside its transaction.

    The caller holds the migration lock; when the version table is already at
    head this returns without importing Alembic.
    """
    if not _at_head(connection):
        upgrade_to_head(connection, MIGRATIONS_DIR)


def ensure_schema(engine: Engine) -> None:
    """Bring the state tables to head in one transaction (safe to call repeatedly and concurrently)."""
    load_table_modules()
    # A plain read first: at head (every call after the first) needs no write lock.
    with engine.connect() as conn:
        if _at_head(conn):
            return
    # The process-wide Alembic lock first, then the database's (governance.db.ALEMBIC_RUN_LOCK).
    with ALEMBIC_RUN_LOCK, engine.connect() as conn, conn.begin():
        _take_migration_lock(conn)
        upgrade(conn)


def refuse_new_database(url: str, what: str, variable: str) -> None:
    """A database named in the environment must exist: a job never creates one.

    A mistyped ``GOVERNANCE_LEDGER_URL``, ``GOVERNANCE_STATE_URL`` or ``GOVERNANCE_HOME``
    used to create a new, empty ledger and state database; a retention sweep then saw
    no hold and destroyed held cases (found from outside). ``governance keys init``
    creates them on purpose on a new installation; the embedded default, with no
    database named, still starts itself under ``GOVERNANCE_HOME``.
    """
    if sqlite_file_missing(url):
        raise ConfigError(f"{what} {safe_url(url)} does not exist: jobs never create one (it would start with no "
                          f"holds or access requests on record); check {variable} and GOVERNANCE_HOME, or create it "
                          f"on purpose with governance keys init; nothing was done")


def state_engine(settings: Settings) -> Engine:
    """The state database's engine, with its tables ensured (cached per URL)."""
    url = settings.state_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if settings.databases_named:
                refuse_new_database(url, "state database", "GOVERNANCE_STATE_URL (or GOVERNANCE_LEDGER_URL)")
            engine = make_engine(url)
            try:
                ensure_schema(engine)
            except sa.exc.OperationalError as exc:  # name which database: store, state and ledger can each be down
                engine.dispose()
                raise StoreUnavailable(f"state database {safe_url(url)} is unreachable "
                                       f"({type(getattr(exc, 'orig', exc)).__name__})") from None
            _engines[url] = engine
        return engine
