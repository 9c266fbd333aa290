"""Verifying a large ledger on every core: each process checks a range of entries.

Checking entry ``seq`` against the chain needs only its body, its stored hash
and the stored hash of entry ``seq - 1``; the Merkle tree needs only the entry
hashes once they are checked. So a ledger of N entries is cut into ranges of
whole :data:`BLOCK`-entry blocks, and each range is read and checked by one
process (the first range by this one, on the verifying snapshot):

- the chain from the stored hash of the entry before the range, and ``seq``
  continuity up to the range's last entry;
- for the tree, the root of every complete block, and at every stop size (a
  tree head, an auditor's saved size) inside the range the perfect subtrees of
  its block so far.

This process then folds the block roots into the tree (about N/4,096 node
hashes), checks every signed tree head in size order, and reports the *same*
first failure, with the same line, as the one-process pass
(:func:`governance.ledger.verify.stream_pass`): an entry failure at or before
a tree head's size wins over that head's mismatch. All ranges passing is the
whole chain passing: each range starts from the stored hash that the range
before it checked as its last. Tests compare both passes on every mutation.

When: ledgers of at least :data:`PARALLEL_FROM` entries, where ``fork`` exists
and this process runs one thread (a fork of a threaded process, such as the
API server's, can inherit a lock another thread held); otherwise one process.
``GOVERNANCE_LEDGER_VERIFY_PROCESSES`` sets the number (1 turns this off).
The children use only connections they open themselves and leave with
``os._exit`` (multiprocessing's way), so the parent's pooled connections are
neither used nor closed by them.
On PostgreSQL every process reads the snapshot of the verifying transaction
(``pg_export_snapshot``). On SQLite each other process opens its own read
transaction; entries are append-only and every range ends at the newest entry
the verifying snapshot saw, so an honest writer's appends are not read.
"""

from __future__ import annotations

import binascii
import gc
import hashlib
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from governance.errors import LedgerError
from governance.ledger.canonical import GENESIS_HASH
from governance.ledger.merkle import CompactRange
from governance.ledger.schema import Checkpoint
from governance.ledger.verify import Failure, PassResult, check_head, row_failure

__all__ = ["BLOCK", "PARALLEL_FROM", "PROCESSES_ENV", "ParallelPass", "processes_for", "read_rows"]

BLOCK = 1 << 12  # entries per block; ranges are whole blocks
PARALLEL_FROM = 200_000  # below this, forking costs more than it saves
PROCESSES_ENV = "GOVERNANCE_LEDGER_VERIFY_PROCESSES"
_GENESIS = GENESIS_HASH.encode("ascii")
_SNAPSHOT_ID = re.compile(r"[0-9A-Fa-f-]{1,64}")


@dataclass
class RangeResult:
    """What one process found in its range of entries."""

    entries: int = 0  # the last seq checked (0: none)
    head_hash: bytes = _GENESIS
    failure: tuple[int, str, int] | None = None  # (seq, reason, at)
    blocks: list[bytes] = field(default_factory=list)  # roots of the range's complete blocks, in order
    partials: dict[int, list[bytes]] = field(default_factory=dict)  # stop size -> its block's subtrees so far
    hashes_at: dict[int, bytes] = field(default_factory=dict)  # stop size -> entry hash there


def processes_for(entries: int) -> int:
    """How many processes to verify ``entries`` with (1: the one-process pass).

    ``GOVERNANCE_LEDGER_VERIFY_PROCESSES`` is the operator's explicit choice and
    is followed even in a threaded process; by default a process with other
    threads, or a platform without ``fork``, verifies in one process.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = os.environ.get(PROCESSES_ENV, "").strip()
    if wanted:
        try:
            count = max(1, int(wanted))
        except ValueError:
            raise LedgerError(f"{PROCESSES_ENV}={wanted!r} is not a whole number") from None
    elif entries < PARALLEL_FROM or threading.active_count() > 1:
        return 1
    else:
        count = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    return max(1, min(count, -(-entries // BLOCK)))


def read_rows(conn: Any, first: int | None = None, last: int | None = None) -> Iterator[tuple[int, bytes, bytes]]:
    """``(seq, body, entry_hash)`` as bytes, in seq order, ``first <= seq <= last`` (None: unbounded).

    ``conn`` is a SQLAlchemy connection. On SQLite the driver cursor is read
    directly; on PostgreSQL a server-side cursor keeps memory flat. Bytes come
    from the database (CAST/convert_to): nothing is decoded and re-encoded.
    """
    where, params = _bounds(first, last)
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute("SELECT seq, CAST(body AS BLOB), CAST(entry_hash AS BLOB) FROM ledger_entries"
                           f"{where} ORDER BY seq", params)
            yield from cursor
        finally:
            cursor.close()
        return
    query = sa.text(f"SELECT seq, convert_to(body, 'UTF8'), convert_to(entry_hash, 'UTF8') FROM ledger_entries"
                    f"{where} ORDER BY seq")
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(query, params)
    for partition in result.partitions():
        yield from partition


def _bounds(first: int | None, last: int | None) -> tuple[str, dict[str, int]]:
    parts, params = [], {}
    if first is not None:
        parts.append("seq >= :first")
        params["first"] = first
    if last is not None:
        parts.append("seq <= :last")
        params["last"] = last
    if not parts:
        return "", {}
    return " WHERE " + " AND ".join(parts), params


class ParallelPass:
    """An ``entry_pass`` for :func:`~governance.ledger.verify.verify_entries` over ``processes`` processes.

    ``conn`` is the verifying snapshot's connection (the first range is read
    there); ``url`` (with its password) lets the other processes connect.
    :meth:`start` forks the other processes at once, so they read their ranges
    while this process checks the tree heads' signatures; calling the pass reads
    the first range, collects the others and combines. :meth:`close` always.
    """

    def __init__(self, conn: sa.Connection, url: str, processes: int) -> None:
        self.conn, self.url, self.processes = conn, url, processes
        self._started: tuple[list[int], list[tuple[int, int]], list[list[int]], Any, list[Any]] | None = None

    def start(self, stops: Sequence[int]) -> None:
        conn = self.conn
        newest = conn.execute(sa.text("SELECT max(seq) FROM ledger_entries")).scalar() or 0
        ranges = _ranges(newest, self.processes)
        wanted = [[s for s in stops if first <= s <= last] for first, last in ranges]
        pool, futures = None, []
        if len(ranges) > 1:
            snapshot = None
            if conn.dialect.name == "postgresql":
                snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
            # Objects that exist now are left out of the children's garbage collection: a collection
            # that walked the inherited heap would copy it page by page (copy-on-write) in each child.
            gc.freeze()
            try:
                pool = ProcessPoolExecutor(len(ranges) - 1, mp_context=multiprocessing.get_context("fork"))
                futures = [pool.submit(_check_in_child, self.url, snapshot, first, last, stops_in)
                           for (first, last), stops_in in zip(ranges[1:], wanted[1:])]
            finally:
                gc.unfreeze()
        self._started = (list(stops), ranges, wanted, pool, futures)

    def __call__(self, stops: Sequence[int], by_size: Mapping[int, Checkpoint]) -> PassResult:
        if self._started is None or self._started[0] != list(stops):
            self.close()
            self.start(stops)
        _, ranges, wanted, _, futures = self._started  # type: ignore[misc]
        results = [_check_range(self.conn, None, ranges[0][1], wanted[0])]
        for future in futures:
            outcome = future.result()
            if isinstance(outcome, str):
                raise LedgerError(f"ledger verification in a second process failed: {outcome}")
            results.append(outcome)
        return _combine(results, stops, by_size)

    def close(self) -> None:
        """Stop the other processes (a verification that failed before reading entries leaves them running)."""
        if self._started is not None and self._started[3] is not None:
            self._started[3].shutdown(wait=True, cancel_futures=True)
        self._started = None


def _ranges(newest: int, processes: int) -> list[tuple[int, int]]:
    """``processes`` ranges of whole blocks covering seq 1..newest (the first also takes any seq below 1)."""
    blocks = max(1, -(-newest // BLOCK))
    per = -(-blocks // max(1, processes))
    ranges, first = [], 1
    while first <= newest:
        last = min(first + per * BLOCK - 1, newest)
        ranges.append((first, last))
        first = last + 1
    return ranges or [(1, newest)]


def _check_in_child(url: str, snapshot: str | None, first: int, last: int, stops: list[int]) -> RangeResult | str:
    """A range, checked in a forked process on its own connection (never the parent's)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if snapshot is not None:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                if snapshot is not None:
                    # SET takes no bind parameters; the id is PostgreSQL's own, checked anyway.
                    if not _SNAPSHOT_ID.fullmatch(snapshot):
                        return "unexpected snapshot id from pg_export_snapshot()"
                    conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                return _check_range(conn, first, last, stops)
    except sa.exc.SQLAlchemyError as error:
        return type(getattr(error, "orig", error)).__name__
    finally:
        engine.dispose()


def _check_range(conn: sa.Connection, first: int | None, last: int, stops: Sequence[int]) -> RangeResult:
    start = first or 1
    prev = _GENESIS
    if start > 1:
        stored = conn.execute(sa.text("SELECT entry_hash FROM ledger_entries WHERE seq = :s"), {"s": start - 1}).scalar()
        prev = stored.encode("ascii", "replace") if isinstance(stored, str) else _GENESIS
    result = check_rows(read_rows(conn, first, last), start, prev, stops)
    if result.failure is None and result.entries < last:  # rows missing at the end of the range
        found = conn.execute(sa.text("SELECT min(seq) FROM ledger_entries WHERE seq > :s"), {"s": result.entries}).scalar()
        failure = row_failure(result.entries + 1, found)
        result.failure = (failure.seq, failure.reason, result.entries + 1)
    return result


def check_rows(rows: Iterable[Sequence[Any]], start: int, prev: bytes, stops: Sequence[int]) -> RangeResult:
    """The chain and block subtrees of rows expected to start at seq ``start`` (a block boundary)."""
    result = RangeResult()
    seq = start - 1
    sha, hexlify = hashlib.sha256, binascii.hexlify
    block = CompactRange()
    leaves: list[bytes] = []
    append = leaves.append
    stop_iter = iter(stops)
    next_stop = next(stop_iter, -1)
    stop = _next_stop(seq, next_stop)
    for number, body, stored in rows:  # the hot loop, as in stream_pass
        digest = sha(b"\x00" + prev + b"\n" + body).digest()
        prev = hexlify(digest)
        seq += 1
        if prev != stored or number != seq:
            failure = row_failure(seq, number)
            result.failure = (failure.seq, failure.reason, seq)
            result.entries = seq - 1
            return result
        append(digest)
        if seq == stop:
            block.extend(leaves)
            leaves.clear()
            at_block_end = not seq % BLOCK
            if seq == next_stop:
                result.partials[seq] = [] if at_block_end else list(block.hashes)
                result.hashes_at[seq] = prev
                next_stop = next(stop_iter, -1)
            if at_block_end:
                result.blocks.append(block.hashes[0])
                block = CompactRange()
            stop = _next_stop(seq, next_stop)
    result.entries, result.head_hash = seq, prev
    return result


def _next_stop(seq: int, next_size: int) -> int:
    block_end = (seq // BLOCK + 1) * BLOCK
    return block_end if next_size == -1 or next_size > block_end else next_size


def _combine(results: Sequence[RangeResult], stops: Sequence[int], by_size: Mapping[int, Checkpoint]) -> PassResult:
    """Fold the ranges into the tree and check the heads, failing where the one-process pass would."""
    failure = next((r.failure for r in results if r.failure is not None), None)
    blocks = [root for r in results for root in r.blocks]
    partials = {size: hashes for r in results for size, hashes in r.partials.items()}
    hashes_at = {size: digest for r in results for size, digest in r.hashes_at.items()}
    upper, used, last_sealed = CompactRange(), 0, 0
    extra_roots: dict[int, bytes] = {}
    for size in stops:
        if failure is not None and failure[0] <= size:
            break
        if size not in hashes_at:  # beyond the last entry: verify_entries names it
            break
        if size // BLOCK > used:
            upper.extend(blocks[used:size // BLOCK])
            used = size // BLOCK
        root = CompactRange(size, upper.hashes + partials[size]).root()
        head = by_size.get(size)
        if head is not None:
            check_head(head, root, hashes_at[size], last_sealed)
            last_sealed = size
        else:
            extra_roots[size] = root
    if failure is not None:
        raise Failure(failure[0], failure[1], at=failure[2])
    last = results[-1]
    return PassResult(last.entries, last.head_hash, extra_roots)
