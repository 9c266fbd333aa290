"""Receipts: a few ledger entries with their inclusion proofs and a signed tree head.

A receipt is a small JSON document a family, an auditor or a destruction
certificate can keep: it proves, with nothing but SHA-256 and Ed25519, that
these entries are in the ledger whose tree head (size, Merkle root) the
ledger's key signed. :func:`verify_receipt` checks one offline, with no
database: each entry's body is canonical JSON naming its own ``seq``; its
entry hash ``SHA-256(0x00 || prev_hash || "\\n" || body)`` is the leaf that the
RFC 9162 inclusion proof (§2.1.3.2) takes to the signed root; the tree head's
signature is valid under the included public key, whose fingerprint starts
with the head's key id. Whether that key is the organisation's is what
``expect_key_id`` (the published fingerprint) answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from governance.errors import GovernanceError, LedgerError
from governance.ledger.canonical import GENESIS_HASH, canonical, entry_hash
from governance.ledger.merkle import verify_inclusion
from governance.ledger.schema import Checkpoint, entries_table
from governance.ledger.signing import fingerprint, load_public_key
from governance.ledger.verify import matches_key

if TYPE_CHECKING:
    from governance.ledger.ledger import Ledger

__all__ = ["RECEIPT_FORMAT", "ReceiptReport", "receipt_for", "verify_receipt", "destruction_entries"]

RECEIPT_FORMAT = "governance-ledger-receipt/1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DESTRUCTION = ("destroy", "anonymis", "erase", "shred")


def receipt_for(ledger: "Ledger", seqs: Iterable[int], *, seal: bool = True) -> dict[str, Any]:
    """The receipt of entries ``seqs`` against the newest signed tree head.

    If the newest head does not cover them yet and ``seal`` (and the ledger has
    its key), the head is sealed first (:meth:`Ledger.checkpoint`, which checks
    the chain before signing).
    """
    from governance.ledger.proofs import TreeReader, hexes  # noqa: PLC0415

    wanted = sorted({int(s) for s in seqs})
    if not wanted or wanted[0] < 1:
        raise LedgerError("a receipt needs at least one entry number (1 or more)")
    heads = ledger.checkpoints()
    if (not heads or heads[-1].size < wanted[-1]) and seal and ledger.signer is not None and not ledger.read_only:
        ledger.checkpoint()
    with ledger.snapshot() as conn:
        heads = ledger.checkpoints(conn)
        size = ledger._head_row(conn)[0]
        if wanted[-1] > size:  # a mistyped number: no seal would ever cover it
            raise LedgerError(f"the ledger has {size} entries: there is no entry {wanted[-1]}")
        if not heads or heads[-1].size < wanted[-1]:
            raise LedgerError(f"entry {wanted[-1]} is not yet covered by a signed tree head; "
                              f"run a checkpoint (governance audit record, or any job) first")
        head = heads[-1]
        keys = dict(ledger.public_keys(conn))
        if head.key_id not in keys:
            raise LedgerError(f"the key {head.key_id} that signed the newest tree head is not registered; "
                              f"run governance audit verify")
        reader = TreeReader(conn)
        root = bytes.fromhex(head.root)
        entries = []
        for seq in wanted:
            rows = dict(conn.execute(sa.select(entries_table.c.seq, entries_table.c.entry_hash)
                                     .where(entries_table.c.seq.between(seq - 1, seq))).all())
            body = conn.execute(sa.select(entries_table.c.body).where(entries_table.c.seq == seq)).scalar()
            if body is None or seq not in rows:
                raise LedgerError(f"entry {seq} is not in the ledger")
            prev = rows.get(seq - 1, GENESIS_HASH) if seq > 1 else GENESIS_HASH
            if entry_hash(prev, body) != rows[seq]:
                raise LedgerError(f"entry {seq} does not match its hash; run governance audit verify")
            path = reader.inclusion(seq - 1, head.size, root)
            entries.append({"seq": seq, "prev_hash": prev, "body": body, "inclusion_proof": hexes(path)})
    pem = keys[head.key_id]
    return {"format": RECEIPT_FORMAT, "entries": entries, "tree_head": head.signed(),
            "public_key": pem.decode("ascii"), "fingerprint": fingerprint(load_public_key(pem, head.key_id))}


def destruction_entries(ledger: "Ledger", case_id: str) -> list[int]:
    """Seqs of the entries recording the destruction or anonymisation of ``case_id``."""
    like = json.dumps(case_id)
    with ledger.snapshot() as conn:
        rows = conn.execute(sa.select(entries_table.c.seq, entries_table.c.action, entries_table.c.record_ids)
                            .where(entries_table.c.record_ids.contains(like, autoescape=True))
                            .order_by(entries_table.c.seq)).all()
    return [seq for seq, action, ids in rows
            if any(word in action for word in _DESTRUCTION) and case_id in json.loads(ids)]


@dataclass(frozen=True)
class ReceiptReport:
    ok: bool
    reason: str | None
    seqs: tuple[int, ...] = ()
    tree_size: int = 0
    root: str | None = None
    key_id: str | None = None
    fingerprint: str | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"receipt INVALID: {self.reason}"
        return (f"receipt OK: entries {', '.join(map(str, self.seqs))} are in the ledger's tree of size "
                f"{self.tree_size} (root {self.root}), signed by key {self.key_id} (fingerprint {self.fingerprint})")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "seqs": list(self.seqs), "tree_size": self.tree_size,
                "root": self.root, "key_id": self.key_id, "fingerprint": self.fingerprint}


def verify_receipt(receipt: Any, expect_key_id: str | None = None) -> ReceiptReport:
    """Check a receipt offline (module doc); never raises for a bad receipt, says why in one line."""
    def bad(reason: str) -> ReceiptReport:
        return ReceiptReport(False, reason)

    if type(receipt) is not dict or receipt.get("format") != RECEIPT_FORMAT:
        return bad(f"not a ledger receipt (format must be {RECEIPT_FORMAT})")
    if set(receipt) != {"format", "entries", "tree_head", "public_key", "fingerprint"}:
        return bad("receipt does not have exactly the receipt fields")
    try:
        head = Checkpoint.from_signed(receipt["tree_head"])
        key = load_public_key(str(receipt["public_key"]).encode("ascii"), "in the receipt")
    except (GovernanceError, UnicodeEncodeError) as error:
        return bad(str(error))
    print_ = fingerprint(key)
    if print_[:16] != head.key_id or receipt["fingerprint"] != print_:
        return bad(f"the receipt's public key is not key {head.key_id}")
    try:
        key.verify(bytes.fromhex(head.signature), head.payload())
    except (InvalidSignature, ValueError, TypeError, GovernanceError):
        return bad(f"the tree head (size {head.size}) signature is not valid")
    if expect_key_id is not None and not matches_key(expect_key_id, print_):
        return bad(f"signed by key {head.key_id} (fingerprint {print_}), not the expected key {expect_key_id}")
    entries = receipt["entries"]
    if type(entries) is not list or not entries:
        return bad("the receipt holds no entries")
    seqs = []
    root = bytes.fromhex(head.root) if _HEX64.match(head.root) else b""
    for item in entries:
        problem = _entry_problem(item, head, root)
        if problem is not None:
            return bad(problem)
        seqs.append(item["seq"])
    return ReceiptReport(True, None, tuple(seqs), head.size, head.root, head.key_id, print_)


def _entry_problem(item: Any, head: Checkpoint, root: bytes) -> str | None:
    if type(item) is not dict or set(item) != {"seq", "prev_hash", "body", "inclusion_proof"}:
        return "a receipt entry does not have exactly seq, prev_hash, body and inclusion_proof"
    seq, prev, body, path = item["seq"], item["prev_hash"], item["body"], item["inclusion_proof"]
    if type(seq) is not int or type(prev) is not str or not _HEX64.match(prev) or type(body) is not str \
            or type(path) is not list or not all(type(p) is str and _HEX64.match(p) for p in path):
        return f"receipt entry {seq!r} is malformed"
    try:
        parsed = json.loads(body)
        if type(parsed) is not dict or canonical(parsed) != body or parsed.get("seq") != seq:
            raise ValueError
    except (ValueError, RecursionError, GovernanceError):
        return f"receipt entry {seq}: body is not the canonical entry {seq}"
    if seq == 1 and prev != GENESIS_HASH:
        return "receipt entry 1 does not start from the genesis hash"
    leaf = entry_hash(prev, body)
    if seq == head.size and leaf != head.head:
        return f"receipt entry {seq} is not the head entry its tree head signs"
    if not verify_inclusion(bytes.fromhex(leaf), seq - 1, head.size, [bytes.fromhex(p) for p in path], root):
        return f"receipt entry {seq} is not included in the signed tree of size {head.size} (entry or proof altered)"
    return None
