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


class TreeReader:
    """Subtree hashes over one database snapshot (``conn``), memoised per reader."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._memo: dict[tuple[int, int], bytes] = {}

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes of entries with seq in (start, end] (leaf indexes [start, end))."""
        rows = self.conn.execute(
            sa.select(entries_table.c.seq, entries_table.c.entry_hash)
            .where(entries_table.c.seq > start, entries_table.c.seq <= end).order_by(entries_table.c.seq)).all()
        if len(rows) != end - start:
            raise LedgerError(f"entries {start + 1}-{end} are incomplete in the ledger; run governance audit verify")
        return [bytes.fromhex(h) for _, h in rows]

    def subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) (RFC 9162 split)."""
        key = (start, end)
        if key in self._memo:
            return self._memo[key]
        n = end - start
        if n & (n - 1) == 0:  # perfect: cached node, or hash its leaves
            level = n.bit_length() - 1
            digest = None
            if level >= NODE_LEVEL:
                digest = self.conn.execute(sa.select(nodes_table.c.hash).where(
                    nodes_table.c.level == level, nodes_table.c.idx == start >> level)).scalar()
                digest = bytes.fromhex(digest) if digest else None
            if digest is None:
                if level > NODE_LEVEL:
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
        path = inclusion_path(self.subtree, index, size)
        leaf = self.leaves(index, index + 1)[0]
        if not verify_inclusion(leaf, index, size, path, root):
            raise LedgerError(f"the stored tree does not prove entry {index + 1} against the tree head of size "
                              f"{size}; run governance audit verify")
        return path

    def consistency(self, first: int, first_root: bytes, second: int, second_root: bytes) -> list[bytes]:
        """The consistency proof from ``first`` to ``second``, checked against both signed roots."""
        path = consistency_path(self.subtree, first, second)
        if not verify_consistency(first, second, first_root, second_root, path):
            raise LedgerError(f"the ledger's tree of size {second} does not extend the tree of size {first}")
        return path


def hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


__all__ += ["hexes"]
