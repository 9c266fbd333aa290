"""Database-side checks around the streamed verification.

* :func:`check_seq_and_schema`: the columns other code queries (actor, action, record_ids, ...) are still GENERATED from the hashed
  body, so they cannot have been made to say something else.
* :func:`check_since`: an auditor's saved tree head is one this ledger signed,
  today's tree still has its root at that size, and a consistency proof from it
  to today's newest head verifies (RFC 9162 §2.1.4.2).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from governance.errors import GovernanceError
from governance.ledger.schema import DERIVED_COLUMNS, Checkpoint
from governance.ledger.signing import load_public_key
from governance.ledger.verify import VerifyReport

if TYPE_CHECKING:
    from governance.ledger.ledger import Ledger

__all__ = ["check_seq_and_schema", "check_since"]


def check_seq_and_schema(conn: sa.Connection) -> tuple[int | None, str] | None:
    """(first bad seq, reason) or None."""
    # Gaps and duplicates in seq are found by the streamed pass, which reads seq too.
    if conn.dialect.name == "sqlite":
        ddl = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'")).scalar() or ""
        plain = [c for c in DERIVED_COLUMNS if f"json_extract(body, '$.{c}')" not in ddl]
    else:
        generated = dict(conn.execute(sa.text(
            "SELECT column_name, is_generated FROM information_schema.columns "
            "WHERE table_name = 'ledger_entries' AND table_schema = current_schema()")).all())
        plain = [c for c in DERIVED_COLUMNS if generated.get(c) != "ALWAYS"]
    if plain:
        return None, f"ledger_entries.{plain[0]} is no longer generated from the hashed body (table altered)"
    return None


def check_since(ledger: "Ledger", conn: sa.Connection, report: VerifyReport, heads: Sequence[Checkpoint],
                since: Checkpoint, roots: dict[int, bytes]) -> VerifyReport:
    """The report, failed or with ``since`` filled in (see module doc)."""
    from governance.ledger.proofs import TreeReader, hexes  # noqa: PLC0415

    def failed(reason: str, seq: int | None = None) -> VerifyReport:
        return replace(report, ok=False, head_hash=None, first_bad_seq=seq, reason=reason, unsealed=0)

    keys = dict(ledger.public_keys(conn))
    try:
        if since.key_id not in keys:
            raise InvalidSignature
        load_public_key(keys[since.key_id], since.key_id).verify(bytes.fromhex(since.signature), since.payload())
    except (InvalidSignature, ValueError, TypeError, GovernanceError):
        return failed(f"your saved tree head (size {since.size}) is not signed by a key of this ledger")
    if since.size > report.entries:
        return failed(f"the ledger has {report.entries} entries, fewer than your saved tree head "
                      f"(size {since.size}): entries deleted", report.entries + 1)
    mine = {h.size: h for h in heads}.get(since.size)
    if mine is not None and mine.signed() != since.signed():
        return failed(f"the ledger's tree head at size {since.size} differs from your saved one (tree heads replaced)")
    if since.size in roots and roots[since.size].hex() != since.root:
        return failed(f"today's ledger does not extend your saved tree head at size {since.size} "
                      f"(entries up to it were rewritten)", 1)
    newest = heads[-1]
    try:
        path = TreeReader(conn).consistency(since.size, bytes.fromhex(since.root), newest.size,
                                            bytes.fromhex(newest.root))
    except GovernanceError as error:
        return failed(str(error))
    proof: dict[str, Any] = {"from_size": since.size, "from_root": since.root, "to_size": newest.size,
                             "to_root": newest.root, "consistency_proof": hexes(path)}
    return replace(report, since=proof)
