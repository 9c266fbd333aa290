"""The append-only, hash-chained, signed audit ledger.

Every governance action (a record destroyed, an access request answered, an
extract released) appends one entry naming who, what, why, under which rule,
in which store and which record identifiers, with counts. Entries form a hash
chain; every ``checkpoint_every`` entries, and whenever a job calls
:meth:`Ledger.checkpoint`, the head is signed with the ledger's Ed25519 key.

Appends serialise so the chain never forks: on PostgreSQL with a
transaction-level advisory lock, elsewhere by updating the single
``ledger_lock`` row (which on SQLite takes the database write lock before the
head is read). Appends can run inside a caller's transaction (``connection=``)
so that, when a case store and the ledger share a database, destroying a chunk
of records and recording it commit or roll back together.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from governance.db import ALEMBIC_RUN_LOCK, make_engine, safe_url, same_database
from governance.errors import GovernanceError, LedgerError
from governance.keys import KeyStore
from governance.ledger.canonical import GENESIS_HASH, checkpoint_payload, row_hash
from governance.ledger.schema import (
    ENTRY_COLUMNS, VERSION_TABLE, Checkpoint, LedgerEntry, checkpoints_table, entries_table,
    keys_table, lock_table, prepare_event, upgrade, utc_stamp,
)
from governance.ledger.verify import VerifyReport, verify_rows

if TYPE_CHECKING:
    from governance.ledger.bundle import ExportReport

__all__ = ["Ledger", "utc_stamp"]

# pg_advisory_xact_lock keys: "ledger" in ASCII, and one more for migrations.
_APPEND_LOCK = 0x6C6564676572
_MIGRATE_LOCK = _APPEND_LOCK + 1
_WRITE = "governance_ledger_write"
_ENTRY_COLS = [entries_table.c[name] for name in ENTRY_COLUMNS]
_VALUE_COLUMNS = ENTRY_COLUMNS[1:11]  # what prepare_event returns, in row order


def _sqlite_transactions(engine: sa.Engine) -> None:
    """Let SQLAlchemy, not the driver, begin SQLite transactions; writers BEGIN IMMEDIATE.

    pysqlite otherwise begins lazily at the first INSERT, after the head was
    read outside any transaction; IMMEDIATE takes the write lock up front.
    """

    @sa.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


class Ledger:
    """An audit ledger in one database. Build with :meth:`open`."""

    def __init__(self, engine: sa.Engine, keys: KeyStore | None, checkpoint_every: int) -> None:
        if checkpoint_every < 1:
            raise LedgerError("checkpoint_every must be at least 1")
        self.engine = engine
        self.keys = keys
        self.checkpoint_every = checkpoint_every
        self._is_pg = engine.dialect.name == "postgresql"

    @classmethod
    def open(cls, url: str, keys: KeyStore | None, *, checkpoint_every: int = 1000, create: bool = True) -> "Ledger":
        """Connect and bring the schema to head (idempotent, serialised between openers).

        ``keys`` may be None for read-only use (verify, export without sealing,
        log). With ``create=False`` a missing ledger is an error instead of
        being created: for auditors pointing at an existing database.
        """
        engine = make_engine(url, create_folder=create)  # malformed URL -> ConfigError
        if not create and engine.dialect.name == "sqlite":
            database = engine.url.database
            if not database or database == ":memory:" or not Path(database).is_file():
                engine.dispose()
                raise LedgerError(f"no ledger database at {safe_url(url)}")
        if engine.dialect.name == "sqlite":
            _sqlite_transactions(engine)
        ledger = cls(engine, keys, checkpoint_every)
        try:
            # The process-wide Alembic lock first, then the database's (governance.db.ALEMBIC_RUN_LOCK).
            with ALEMBIC_RUN_LOCK, ledger._errors("open"), ledger._transaction(write=True) as conn:
                if ledger._is_pg:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
                if not create and not sa.inspect(conn).has_table(VERSION_TABLE):
                    raise LedgerError(f"no ledger tables in {safe_url(url)}")
                upgrade(conn)
        except BaseException:
            engine.dispose()
            raise
        return ledger

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Database failures become one-line LedgerErrors naming the database, not data."""
        try:
            yield
        except GovernanceError:
            raise
        except sa.exc.IntegrityError:
            raise LedgerError(f"ledger {what} conflicted with a concurrent writer; retry") from None
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InterfaceError) as exc:
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            raise LedgerError(
                f"ledger database {safe_url(str(self.engine.url))} failed during {what}: "
                f"{type(getattr(exc, 'orig', exc)).__name__}{': ' + detail[0][:200] if detail else ''}"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(f"ledger database {safe_url(str(self.engine.url))} failed during {what}: "
                              f"{type(exc).__name__}") from None

    @contextmanager
    def _transaction(self, *, write: bool = False, snapshot: bool = False) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            if write:
                conn.execution_options(**{_WRITE: True})
            if snapshot and self._is_pg:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def _use(self, connection: sa.Connection | None, what: str) -> Any:
        """Context for a write: the caller's transaction as is, or our own."""
        if connection is None:
            return self._transaction(write=True)
        if not same_database(connection.engine, self.engine):
            raise LedgerError(f"{what}: connection= is not to the ledger database")
        return _Borrowed(connection)

    def shares_database(self, engine: sa.Engine) -> bool:
        """True when ``engine`` reaches the ledger's own database, so a caller can
        pass its connection to :meth:`append` and commit both together."""
        return same_database(engine, self.engine)

    def _lock(self, conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
        else:
            conn.execute(lock_table.update().where(lock_table.c.id == 1).values(counter=lock_table.c.counter + 1))

    @staticmethod
    def _head_row(conn: sa.Connection) -> tuple[int, str]:
        row = conn.execute(
            sa.select(entries_table.c.seq, entries_table.c.entry_hash).order_by(entries_table.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), row[1])

    def _require_keys(self) -> KeyStore:
        if self.keys is None:
            raise LedgerError("this ledger was opened without keys; appending and sealing need the signing key")
        self.keys.signing_key()  # fail before writing, not at the next checkpoint (cached after the first call)
        return self.keys

    # -- writing ---------------------------------------------------------------

    def append(
        self, *, actor: str, action: str, reason: str | None = None, rule: str | None = None,
        store: str | None = None, record_ids: Sequence[str] = (), counts: Mapping[str, int] | None = None,
        details: Mapping[str, object] | None = None, as_of: datetime | None = None,
        connection: sa.Connection | None = None,
    ) -> LedgerEntry:
        """Append one entry (and a checkpoint if it reaches a multiple of checkpoint_every)."""
        event = dict(actor=actor, action=action, reason=reason, rule=rule, store=store,
                     record_ids=record_ids, counts=counts, details=details, as_of=as_of)
        return self.append_many([event], connection=connection)[0]

    def append_many(self, items: Iterable[Mapping[str, Any]], *, connection: sa.Connection | None = None) -> list[LedgerEntry]:
        """Append several entries in one transaction; each item has :meth:`append`'s keywords."""
        self._require_keys()
        prepared = [prepare_event(item) for item in items]  # validate before locking
        if not prepared:
            return []
        with self._errors("append"), self._use(connection, "append") as conn:
            self._lock(conn)
            seq, prev = self._head_row(conn)
            rows: list[dict[str, Any]] = []
            to_seal: list[tuple[int, str]] = []
            every = self.checkpoint_every
            for values, _ in prepared:
                seq += 1
                entry_hash = row_hash(prev, (seq, *values))
                rows.append({**dict(zip(_VALUE_COLUMNS, values)), "seq": seq, "prev_hash": prev, "entry_hash": entry_hash})
                prev = entry_hash
                if seq % every == 0:
                    to_seal.append((seq, entry_hash))
            conn.execute(entries_table.insert(), rows)
            if to_seal:
                self._insert_checkpoints(conn, [self._sign(s, h) for s, h in to_seal])
        return [
            LedgerEntry(row["seq"], *values[:7], *objects, row["prev_hash"], row["entry_hash"])
            for row, (values, objects) in zip(rows, prepared)
        ]

    def checkpoint(self, connection: sa.Connection | None = None) -> Checkpoint | None:
        """Sign the current head; None if the ledger is empty or the head is already sealed."""
        self._require_keys()
        with self._errors("checkpoint"), self._use(connection, "checkpoint") as conn:
            self._lock(conn)
            seq, head_hash = self._head_row(conn)
            if seq == 0 or conn.execute(
                sa.select(checkpoints_table.c.seq).where(checkpoints_table.c.seq == seq)
            ).first():
                return None
            checkpoint = self._sign(seq, head_hash)
            self._insert_checkpoints(conn, [checkpoint])
            return checkpoint

    def _sign(self, seq: int, entry_hash: str) -> Checkpoint:
        keys = self._require_keys()
        signed_at, key_id = utc_stamp(), keys.key_id()
        signature = keys.signing_key().sign(checkpoint_payload(seq, entry_hash, signed_at, key_id)).hex()
        return Checkpoint(seq, entry_hash, signed_at, key_id, signature)

    def _insert_checkpoints(self, conn: sa.Connection, checkpoints: list[Checkpoint]) -> None:
        keys = self._require_keys()
        key_id = keys.key_id()
        # Register the public key alongside the first checkpoint it signs, so
        # verification works after the signing key is rotated.
        if conn.execute(sa.select(keys_table.c.key_id).where(keys_table.c.key_id == key_id)).first() is None:
            conn.execute(keys_table.insert().values(
                key_id=key_id, public_key_pem=keys.public_key_pem().decode("ascii"), created_at=utc_stamp()))
        conn.execute(checkpoints_table.insert(), [cp.to_dict() for cp in checkpoints])

    # -- reading ---------------------------------------------------------------

    def head(self) -> LedgerEntry | None:
        """The newest entry, or None when the ledger is empty."""
        with self._errors("head"), self._transaction() as conn:
            row = conn.execute(sa.select(*_ENTRY_COLS).order_by(entries_table.c.seq.desc()).limit(1)).first()
        return None if row is None else LedgerEntry.from_row(row)

    def entries(self, start: int = 1, stop: int | None = None) -> Iterator[LedgerEntry]:
        """Entries with ``start <= seq < stop`` in seq order, streamed from the database."""
        query = sa.select(*_ENTRY_COLS).where(entries_table.c.seq >= start).order_by(entries_table.c.seq)
        if stop is not None:
            query = query.where(entries_table.c.seq < stop)
        with self._errors("read"), self._transaction() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query):
                yield LedgerEntry.from_row(row)

    def checkpoints(self, conn: sa.Connection | None = None) -> list[Checkpoint]:
        """Every checkpoint, in seq order."""
        if conn is None:
            with self._errors("read"), self._transaction() as own:
                return self.checkpoints(own)
        query = sa.select(*[checkpoints_table.c[n] for n in ("seq", "entry_hash", "signed_at", "key_id", "signature")])
        return [Checkpoint(*row) for row in conn.execute(query.order_by(checkpoints_table.c.seq))]

    @staticmethod
    def public_keys(conn: sa.Connection) -> dict[str, bytes]:
        """Registered public keys: key_id -> PEM bytes."""
        rows = conn.execute(sa.select(keys_table.c.key_id, keys_table.c.public_key_pem))
        return {key_id: pem.encode("ascii") for key_id, pem in rows}

    def rows(self, conn: sa.Connection) -> Iterator[Any]:
        """Raw entry rows (``ENTRY_COLUMNS`` order, JSON as text) in seq order: the verify fast path.

        On SQLite the driver cursor is read directly (same transaction), which
        saves a tenth of the time of a million-row pass; elsewhere a streamed
        Core select (server-side cursor) keeps memory flat.
        """
        query = sa.select(*_ENTRY_COLS).order_by(entries_table.c.seq)
        if conn.dialect.name == "sqlite":
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(str(query.compile(dialect=conn.dialect)))
                while batch := cursor.fetchmany(5000):
                    yield from batch
            finally:
                cursor.close()
            return
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        for partition in result.partitions():
            yield from partition

    @contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """A read transaction that sees one consistent state (for verify and export)."""
        with self._errors("read"), self._transaction(snapshot=True) as conn:
            yield conn

    def verify(self, *, expect_key_id: str | None = None, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Recompute the chain and check every checkpoint (see :mod:`governance.ledger.verify`)."""
        with self.snapshot() as conn:
            return verify_rows(self.rows(conn), self.checkpoints(conn), self.public_keys(conn),
                               expect_key_id=expect_key_id, progress=progress)

    def export(self, directory: Path, *, seal: bool = True) -> "ExportReport":
        """Write an offline bundle (see :mod:`governance.ledger.bundle`); seals the head first if ``seal`` and keys."""
        from governance.ledger.bundle import export_bundle

        if seal and self.keys is not None:
            self.checkpoint()
        return export_bundle(self, Path(directory))


class _Borrowed:
    """A caller's connection used as is: no begin, no commit (the caller owns the transaction)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sa.Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        return None
