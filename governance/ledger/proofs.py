"""Inclusion and consistency proofs built from the database's stored tree.

Entry hashes are the tree's leaf hashes, and ``ledger_nodes`` caches every
perfect subtree of 256 leaves and up (written when a tree head is signed), so
a proof reads at most a few hundred entry hashes and a few dozen nodes instead
of the whole log. What the database returns is untrusted: every proof is
checked against the *signed* root before it is handed out, so a tampered cache
yields a refusal, never a false proof.
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa

from governance.errors import LedgerError
from governance.ledger.merkle import (
    consistency_path, inclusion_path, node_hash, perfect_root, split_point, verify_consistency, verify_inclusion,
)
from governance.ledger.schema import entries_table, nodes_table
from governance.ledger.sealing import NODE_LEVEL

__all__ = ["TreeReader"]

# Built once: a proof runs a handful of these and statement construction would dominate.
_RANGE = (sa.select(entries_table.c.entry_hash)
          .where(entries_table.c.seq > sa.bindparam("start"), entries_table.c.seq <= sa.bindparam("end"))
          .order_by(entries_table.c.seq))


class TreeReader:
    """Subtree hashes over one database snapshot (``conn``), memoised per reader.

    A proof needs the perfect subtrees its path decomposes into: those of 256
    leaves and up come from ``ledger_nodes`` in one query, smaller ones from the
    entry hashes of the aligned 256-entry blocks they lie in, one query per block.
    """

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._memo: dict[tuple[int, int], bytes] = {}
        self._blocks: dict[int, list[bytes]] = {}

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of entries with seq in (start, end] (leaf indexes [start, end))."""
        block = start >> NODE_LEVEL
        if end - start <= 1 << NODE_LEVEL and (end - 1) >> NODE_LEVEL == block:
            hashes = self._block(block)
            offset = start - (block << NODE_LEVEL)
            found = hashes[offset:offset + end - start]
        else:
            found = self._read(start, end)
        if len(found) != end - start:
            raise LedgerError(f"entries {start + 1}-{end} are incomplete in the ledger; run governance audit verify")
        return found

    def _read(self, start: int, end: int) -> list[bytes]:
        return [bytes.fromhex(h) for (h,) in self.conn.execute(_RANGE, {"start": start, "end": end})]

    def _block(self, block: int) -> list[bytes]:
        if block not in self._blocks:
            start = block << NODE_LEVEL
            self._blocks[block] = self._read(start, start + (1 << NODE_LEVEL))
        return self._blocks[block]

    def prefetch(self, ranges: Sequence[tuple[int, int]]) -> None:
        """Load, in one query, the cached nodes for every perfect part of ``ranges``."""
        wanted = {(level, start >> level) for first, last in ranges for start, level in _perfect_parts(first, last)
                  if level >= NODE_LEVEL}
        if not wanted:
            return
        # An OR of primary-key lookups (SQLite scans the table for a row-value IN), as plain text:
        # building it as an expression tree cost more than running it.
        pairs = sorted(wanted)
        where = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(len(pairs)))
        params = {key: value for n, (level, idx) in enumerate(pairs) for key, value in ((f"l{n}", level), (f"i{n}", idx))}
        rows = self.conn.execute(sa.text(f"SELECT level, idx, hash FROM ledger_nodes WHERE {where}"), params).all()
        for level, idx, digest in rows:
            self._memo[(idx << level, (idx + 1) << level)] = bytes.fromhex(digest)

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) (RFC 9162 split)."""
        key = (start, end)
        if key in self._memo:
            return self._memo[key]
        n = end - start
        if n & (n - 1) == 0:  # perfect: cached node (prefetched), children, or its leaves
            level = n.bit_length() - 1
            cached = self.conn.execute(sa.select(nodes_table.c.hash).where(
                nodes_table.c.level == level, nodes_table.c.idx == start >> level)).scalar() \
                if level >= NODE_LEVEL else None
            if cached:
                digest = bytes.fromhex(cached)
            elif level > NODE_LEVEL:
                half = n // 2
                digest = node_hash(self.subtree(start, start + half), self.subtree(start + half, end))
            else:
                digest = perfect_root(self.leaves(start, end))
        else:
            k = split_point(n)
            digest = node_hash(self.subtree(start, start + k), self.subtree(start + k, end))
        self._memo[key] = digest
        return digest

    def inclusion(self, index: int, size: int, root: bytes) -> list[bytes]:
        """The inclusion path of leaf ``index`` in the tree of ``size``, checked against the signed ``root``."""
        self.prefetch(_siblings(index, size))
        path = inclusion_path(self.subtree, index, size)
        leaf = self.leaves(index, index + 1)[0]
        if not verify_inclusion(leaf, index, size, path, root):
            raise LedgerError(f"the stored tree does not prove entry {index + 1} against the tree head of size "
                              f"{size}; run governance audit verify")
        return path

    def consistency(self, first: int, first_root: bytes, second: int, second_root: bytes) -> list[bytes]:
        """The consistency proof from ``first`` to ``second``, checked against both signed roots."""
        recorded: list[tuple[int, int]] = []
        consistency_path(lambda a, b: recorded.append((a, b)) or b"", first, second)
        self.prefetch(recorded)
        path = consistency_path(self.subtree, first, second)
        if not verify_consistency(first, second, first_root, second_root, path):
            raise LedgerError(f"the ledger's tree of size {second} does not extend the tree of size {first}")
        return path


def _perfect_parts(start: int, end: int) -> list[tuple[int, int]]:
    """(start, level) of the perfect subtrees MTH(D[start:end]) recurses into (RFC split)."""
    n = end - start
    if n <= 0:
        return []
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return [(start, level)]
    k = split_point(n)
    return _perfect_parts(start, start + k) + _perfect_parts(start + k, end)


def _siblings(index: int, size: int) -> list[tuple[int, int]]:
    recorded: list[tuple[int, int]] = []
    inclusion_path(lambda a, b: recorded.append((a, b)) or b"", index, size)
    return recorded


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


__all__ += ["hexes"]
