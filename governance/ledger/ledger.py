"""The append-only, hash-chained, Merkle-tree audit ledger with signed, witnessed tree heads.

Every governance action (a record destroyed, an access request answered, an
extract released) appends one entry naming who, what, why, under which rule,
in which store and which record identifiers, with counts. Each entry's hash
chains it to the one before and is its leaf in an RFC 9162 Merkle tree; every
``checkpoint_every`` entries, and whenever a job calls :meth:`Ledger.checkpoint`,
the ledger signs a tree head (size, root, head entry, previous head, key set)
with its Ed25519 key, but only after re-checking every entry since the last
trusted head (:mod:`governance.ledger.sealing`), and then copies the head to a
witness outside the database (:mod:`governance.ledger.witness`).

Appends serialise so the chain never forks: on PostgreSQL with a
transaction-level advisory lock, elsewhere by updating the single
``ledger_lock`` row (which on SQLite takes the database write lock before the
head is read). Appends can run inside a caller's transaction (``connection=``)
so that, when a case store and the ledger share a database, destroying a chunk
of records and recording it commit or roll back together; tree heads signed
inside a caller's transaction reach the witness at the next own checkpoint.

``Ledger.open(..., read_only=True)`` never writes: SQLite is opened ``mode=ro``
(``immutable`` for a read-only file whose WAL cannot be opened), PostgreSQL
transactions are ``READ ONLY``; that is how ``audit verify`` runs.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa

from governance.db import ALEMBIC_RUN_LOCK, make_engine, safe_url, same_database
from governance.errors import GovernanceError, LedgerError, LedgerIntegrityError
from governance.ledger.canonical import GENESIS_HASH, entry_body_text, entry_hash
from governance.ledger.engine import WRITE_OPTION, Borrowed, read_only_engine, sqlite_write_transactions
from governance.ledger.schema import (
    CHECKPOINT_COLUMNS, HEAD_REVISION, SAME_FORMAT_REVISION, VERSION_TABLE, Checkpoint, LedgerEntry, checkpoints_table,
    entries_table,
    lock_table, prepare_event, upgrade, utc_stamp,
)
from governance.ledger.sealing import minting_allowed, newest_head, registered_keys, seal, signing_key_id
from governance.ledger.parallel import ParallelPass, processes_for, read_rows
from governance.ledger.signing import LedgerSigner, signer_for
from governance.ledger.verify import VerifyReport, verify_entries
from governance.ledger.witness import WITNESS_ENV, Witness, open_witness

if TYPE_CHECKING:
    from governance.ledger.bundle import ExportReport

__all__ = ["Ledger", "utc_stamp"]

# pg_advisory_xact_lock keys: "ledger" in ASCII, and one more for migrations.
_APPEND_LOCK = 0x6C6564676572
_MIGRATE_LOCK = _APPEND_LOCK + 1
_DEFAULT = object()
_log = logging.getLogger(__name__)
# Built once: statement construction, not execution, dominated a single append.
_LOCK_ROW = lock_table.update().where(lock_table.c.id == 1).values(counter=lock_table.c.counter + 1)
_HEAD = sa.select(entries_table.c.seq, entries_table.c.entry_hash).order_by(entries_table.c.seq.desc()).limit(1)
_INSERT = entries_table.insert()


class Ledger:
    """An audit ledger in one database. Build with :meth:`open`."""

    def __init__(self, engine: sa.Engine, keys: Any, checkpoint_every: int, *,
                 witness: Witness | None = None, read_only: bool = False) -> None:
        if checkpoint_every < 1:
            raise LedgerError("checkpoint_every must be at least 1")
        self.engine = engine
        self.signer: LedgerSigner | None = signer_for(keys)
        self.checkpoint_every = checkpoint_every
        self.witness = witness
        self.read_only = read_only
        self._is_pg = engine.dialect.name == "postgresql"
        self.name = safe_url(str(engine.url))
        self._checked_key: str | None = None

    @classmethod
    def open(cls, url: str, keys: Any, *, checkpoint_every: int = 1000, create: bool = True,
             read_only: bool = False, witness: Any = _DEFAULT) -> "Ledger":
        """Connect and bring the schema to head (idempotent, serialised between openers).

        ``keys`` is the keys folder (a ``KeyStore``, a :class:`LedgerSigner` or a
        path) or None for read-only use. ``witness`` is a :class:`Witness`, a URL
        (:func:`~governance.ledger.witness.open_witness`) or None for none; by
        default ``$GOVERNANCE_LEDGER_WITNESS_URL``, else the file beside the keys.
        With ``create=False`` a missing ledger is an error; ``read_only=True``
        implies it and never writes (no migration either).
        """
        signer = signer_for(keys)
        if witness is _DEFAULT:
            witness = os.environ.get(WITNESS_ENV)
            witness = open_witness(witness, signer.keys_dir if signer else None)
        elif isinstance(witness, str):
            witness = open_witness(witness, signer.keys_dir if signer else None)
        create = create and not read_only
        engine = read_only_engine(url) if read_only else make_engine(url, create_folder=create)
        if not create and engine.dialect.name == "sqlite":
            database = engine.url.database or ""
            path = database.removeprefix("file:").split("?")[0]
            if not path or path == ":memory:" or not Path(path).is_file():
                engine.dispose()
                raise LedgerError(f"no ledger database at {safe_url(url)}")
        if engine.dialect.name == "sqlite" and not read_only:
            sqlite_write_transactions(engine)
        ledger = cls(engine, signer, checkpoint_every, witness=witness, read_only=read_only)
        try:
            if read_only:
                with ledger._errors("open"), ledger._transaction() as conn:
                    if not sa.inspect(conn).has_table(VERSION_TABLE):
                        raise LedgerError(f"no ledger tables in {safe_url(url)}")
                    version = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
                    if version != [HEAD_REVISION] and version != [SAME_FORMAT_REVISION]:  # 0003 only adds an index
                        raise LedgerError(f"ledger at {safe_url(url)} is at schema {version or '-'}, not "
                                          f"{HEAD_REVISION}: open it once with write access to upgrade")
                return ledger
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
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InterfaceError,
                sa.exc.InternalError) as exc:
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            raise LedgerError(
                f"ledger database {self.name} failed during {what}: "
                f"{type(getattr(exc, 'orig', exc)).__name__}{': ' + detail[0][:200] if detail else ''}"
            ) from None
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerError(f"ledger database {self.name} failed during {what}: {type(exc).__name__}") from None

    @contextmanager
    def _transaction(self, *, write: bool = False, snapshot: bool = False) -> Iterator[sa.Connection]:
        if write and self.read_only:
            raise LedgerError("this ledger was opened read-only")
        with self.engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            if snapshot and self._is_pg:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if self.read_only and self._is_pg:
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn

    def _use(self, connection: sa.Connection | None, what: str) -> Any:
        """Context for a write: the caller's transaction as is, or our own."""
        if connection is None:
            return self._transaction(write=True)
        if not same_database(connection.engine, self.engine):
            raise LedgerError(f"{what}: connection= is not to the ledger database")
        return Borrowed(connection)

    def shares_database(self, engine: sa.Engine) -> bool:
        """True when ``engine`` reaches the ledger's own database, so a caller can
        pass its connection to :meth:`append` and commit both together."""
        return same_database(engine, self.engine)

    def _lock(self, conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
        else:
            conn.execute(_LOCK_ROW)

    @staticmethod
    def _head_row(conn: sa.Connection) -> tuple[int, str]:
        row = conn.execute(_HEAD).first()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), row[1])

    def _require_signer(self) -> LedgerSigner:
        if self.signer is None or self.read_only:
            raise LedgerError("this ledger was opened without keys; appending and sealing need the signing key")
        if self.signer.exists():
            self.signer.private_key()  # an unusable key file fails before anything is written
        return self.signer

    def _publish(self, witness_size: int) -> None:
        """Copy every tree head newer than the witness's newest to the witness (after commit)."""
        if self.witness is None:
            return
        try:
            with self._errors("witness"), self._transaction() as conn:
                rows = conn.execute(sa.select(*[checkpoints_table.c[n] for n in CHECKPOINT_COLUMNS])
                                    .where(checkpoints_table.c.size > witness_size).order_by(checkpoints_table.c.size))
                heads = [Checkpoint.from_row(row) for row in rows]
            self.witness.publish(heads)
        except GovernanceError as error:
            # The entries are committed; failing the caller now would only invite a duplicate
            # retry. The next checkpoint() catches the witness up (and sealing checks it first).
            _log.warning("ledger witness %s not updated (%s); it catches up at the next checkpoint",
                         self.witness.location, error)

    # -- writing ---------------------------------------------------------------

    def append(
        self, *, actor: str, action: str, reason: str | None = None, rule: str | None = None,
        store: str | None = None, record_ids: Sequence[str] = (), counts: Mapping[str, int] | None = None,
        details: Mapping[str, object] | None = None, as_of: datetime | None = None,
        connection: sa.Connection | None = None,
    ) -> LedgerEntry:
        """Append one entry (and a tree head if it reaches a multiple of checkpoint_every)."""
        event = dict(actor=actor, action=action, reason=reason, rule=rule, store=store,
                     record_ids=record_ids, counts=counts, details=details, as_of=as_of)
        return self.append_many([event], connection=connection)[0]

    def append_many(self, items: Iterable[Mapping[str, Any]], *, connection: sa.Connection | None = None) -> list[LedgerEntry]:
        """Append several entries in one transaction; each item has :meth:`append`'s keywords."""
        signer = self._require_signer()
        prepared = [prepare_event(item) for item in items]  # validate before locking
        if not prepared:
            return []
        sealed = None
        with self._errors("append"), self._use(connection, "append") as conn:
            self._lock(conn)
            seq, prev = self._head_row(conn)
            # The key rule is checked on the first append (and registers a new ledger's key)
            # and at every seal; entries are not signed until sealed.
            key_id = self._checked_key
            if key_id is None or seq == 0 or not signer.exists() \
                    or to_be_sealed(seq, len(prepared), self.checkpoint_every):
                key_id = self._checked_key = signing_key_id(conn, signer, seq, self.witness, self.name,
                                                            may_mint=minting_allowed())
            rows: list[dict[str, Any]] = []
            prevs: list[str] = []
            fresh: list[tuple[int, str, str]] = []
            to_seal: list[int] = []
            every = self.checkpoint_every
            for values, _ in prepared:
                seq += 1
                body = entry_body_text((seq, *values))
                digest = entry_hash(prev, body)
                rows.append({"seq": seq, "body": body, "entry_hash": digest})
                prevs.append(prev)
                fresh.append((seq, body, digest))
                prev = digest
                if seq % every == 0:
                    to_seal.append(seq)
            conn.execute(_INSERT, rows)
            if to_seal:
                sealed = seal(conn, signer, key_id, to_seal, fresh, self.witness)
        if sealed is not None and connection is None:
            self._publish(sealed.witness_size)
        return [LedgerEntry(row["seq"], *values[:7], *objects, prev_hash, row["entry_hash"])
                for row, prev_hash, (values, objects) in zip(rows, prevs, prepared)]

    def checkpoint(self, connection: sa.Connection | None = None) -> Checkpoint | None:
        """Sign a tree head over every entry, after checking the chain since the last trusted head.

        None if the ledger is empty or already sealed to its head (the witness is
        still brought up to date). Refuses with one line naming the first bad entry.
        """
        signer = self._require_signer()
        with self._errors("checkpoint"), self._use(connection, "checkpoint") as conn:
            self._lock(conn)
            seq, _ = self._head_row(conn)
            newest = newest_head(conn)
            witness_size = 0
            if newest is not None and newest.size > seq:
                raise LedgerIntegrityError(f"not sealing: entries after seq {seq} are missing "
                                           f"(tree head at size {newest.size})", seq + 1)
            if seq == 0 or (newest is not None and newest.size >= seq):
                made = None
                if self.witness is not None:
                    witnessed = self.witness.newest()
                    witness_size = witnessed.size if witnessed is not None else 0
                    _check_not_behind(newest, witnessed, self.witness.location)
            else:
                key_id = signing_key_id(conn, signer, seq, self.witness, self.name, may_mint=minting_allowed())
                sealed = seal(conn, signer, key_id, [seq], [], self.witness)
                made, witness_size = sealed.heads[-1], sealed.witness_size
        if connection is None:
            self._publish(witness_size)
        return made

    # -- keys ------------------------------------------------------------------

    def init_key(self) -> str:
        """``keys init``: see :func:`governance.ledger.keyring.init_key`."""
        from governance.ledger.keyring import init_key  # noqa: PLC0415

        return init_key(self)

    def rotate_key(self, *, actor: str, reason: str | None = None, as_of: datetime | None = None) -> tuple[str, str]:
        """``keys rotate``: see :func:`governance.ledger.keyring.rotate_key`; returns (old key id, new key id)."""
        from governance.ledger.keyring import rotate_key  # noqa: PLC0415

        return rotate_key(self, actor=actor, reason=reason, as_of=as_of)

    # -- reading ---------------------------------------------------------------

    def head(self) -> LedgerEntry | None:
        """The newest entry, or None when the ledger is empty."""
        with self._errors("head"), self._transaction() as conn:
            seq, _ = self._head_row(conn)
        return next(self.entries(seq), None) if seq else None

    def entries(self, start: int = 1, stop: int | None = None) -> Iterator[LedgerEntry]:
        """Entries with ``start <= seq < stop`` in seq order, streamed from the database."""
        cols = (entries_table.c.seq, entries_table.c.body, entries_table.c.entry_hash)
        query = sa.select(*cols).where(entries_table.c.seq >= max(1, start)).order_by(entries_table.c.seq)
        if stop is not None:
            query = query.where(entries_table.c.seq < stop)
        with self._errors("read"), self._transaction() as conn:
            prev = GENESIS_HASH
            if start > 1:
                prev = conn.execute(sa.select(entries_table.c.entry_hash)
                                    .where(entries_table.c.seq == start - 1)).scalar() or GENESIS_HASH
            for _seq, body, digest in conn.execution_options(yield_per=2000).execute(query):
                yield LedgerEntry.from_body(body, prev, digest)
                prev = digest

    def checkpoints(self, conn: sa.Connection | None = None) -> list[Checkpoint]:
        """Every signed tree head, by size."""
        if conn is None:
            with self._errors("read"), self._transaction() as own:
                return self.checkpoints(own)
        query = sa.select(*[checkpoints_table.c[n] for n in CHECKPOINT_COLUMNS]).order_by(checkpoints_table.c.size)
        return [Checkpoint.from_row(row) for row in conn.execute(query)]

    @staticmethod
    def public_keys(conn: sa.Connection) -> list[tuple[str, bytes]]:
        """Registered public keys, (key_id, PEM bytes), in registration order."""
        return registered_keys(conn)

    @contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """A read transaction that sees one consistent state (for verify and export)."""
        with self._errors("read"), self._transaction(snapshot=True) as conn:
            yield conn

    def verify(self, *, expect_key_id: str | None = None, since: Checkpoint | None = None,
               progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Verify entries, tree heads, keys and the witness (see :mod:`governance.ledger.verify`).

        ``since`` is a tree head an auditor saved earlier: it must be one this
        ledger signed, and a consistency proof from it to today's newest head is
        built from the stored tree and checked (the report's ``since``).
        """
        from governance.ledger.checks import check_seq_and_schema, check_since  # noqa: PLC0415

        try:
            witnessed = self.witness.heads() if self.witness is not None else None
        except LedgerIntegrityError as error:
            return VerifyReport(ok=False, entries=0, checkpoints=0, head_hash=None, reason=str(error),
                                witness=self.witness.location if self.witness is not None else None)
        with self.snapshot() as conn:
            problem = check_seq_and_schema(conn)
            heads = self.checkpoints(conn)
            if problem is not None:
                return VerifyReport(ok=False, entries=0, checkpoints=len(heads), head_hash=None,
                                    first_bad_seq=problem[0], reason=problem[1])
            newest_seq = conn.execute(sa.text("SELECT max(seq) FROM ledger_entries")).scalar() or 0
            processes = processes_for(newest_seq)
            _log.debug("verifying %s entries in %d process(es)", newest_seq, processes)
            extra = [since.size] if since is not None and type(since.size) is int and since.size > 0 else []
            entry_pass = None
            if processes > 1:
                entry_pass = ParallelPass(conn, self.engine.url.render_as_string(hide_password=False), processes)
                entry_pass.start(sorted({h.size for h in heads} | set(extra)))  # reading while signatures are checked
            try:
                report, roots = verify_entries(
                    read_rows(conn), heads, self.public_keys(conn), witnessed=witnessed, entry_pass=entry_pass,
                    witness_location=self.witness.location if self.witness is not None else None,
                    expect_key_id=expect_key_id, progress=progress, extra_sizes=extra)
            finally:
                if entry_pass is not None:
                    entry_pass.close()
            if report.ok and since is not None:
                report = check_since(self, conn, report, heads, since, roots)
        return report

    def export(self, directory: Path, *, seal: bool = True) -> "ExportReport":
        """Write an offline bundle (see :mod:`governance.ledger.bundle`); seals the head first if ``seal`` and keys."""
        from governance.ledger.bundle import export_bundle

        if seal and self.signer is not None and not self.read_only:
            self.checkpoint()
        return export_bundle(self, Path(directory))


def _check_not_behind(newest: Checkpoint | None, witnessed: Checkpoint | None, location: str) -> None:
    """An already-sealed ledger must still be where the witness last saw it (else it was cut back)."""
    size = newest.size if newest is not None else 0
    if witnessed is not None and (witnessed.size > size or (
            witnessed.size == size and newest is not None and witnessed.signed() != newest.signed())):
        raise LedgerIntegrityError(f"not sealing: witness {location} holds a tree head at size {witnessed.size} but "
                                   f"the newest in the ledger is at size {size} (entries and tree heads deleted)",
                                   size + 1)


def to_be_sealed(head_seq: int, count: int, every: int) -> bool:
    """Whether appending ``count`` entries after ``head_seq`` crosses a multiple of ``every``."""
    return (head_seq + count) // every > head_seq // every
