"""Sealing: which key may sign, and signing a tree head only over a chain that checks out.

Two rules the ledger enforces before it writes anything signed:

* **The key** (:func:`signing_key_id`). A ledger with registered keys signs only
  with its current key (the newest registered). A missing key file is refused
  with how to restore it; an older (rotated-out) key or a key the ledger never
  registered (another ledger's, say) is refused. Only a brand-new ledger (no
  entries, no keys, nothing witnessed) registers a key, minting it if the
  folder has none: that is its ``keys init``.
* **The chain** (:func:`seal`). A new tree head continues from the newest tree
  head in the database that is validly signed by a registered key and agrees
  with the witness's newest head; its stored compact range must fold to its
  signed root; every entry after it is re-hashed from its body and must equal
  its stored hash. Only then is the tree extended and the new head signed. A
  forged tail is therefore never sealed: the refusal names its first bad entry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from governance.errors import KeyMaterialError, LedgerError, LedgerIntegrityError
from governance.ledger.canonical import GENESIS_HASH, entry_hash
from governance.ledger.merkle import CompactRange
from governance.ledger.schema import (
    CHECKPOINT_COLUMNS, Checkpoint, checkpoints_table, entries_table, keys_table, nodes_table, utc_stamp,
)
from governance.ledger.signing import LedgerSigner, key_id_of, load_public_key
from governance.ledger.witness import Witness

__all__ = ["NODE_LEVEL", "Sealed", "signing_key_id", "registered_keys", "newest_head", "seal", "register_key",
           "minting_allowed"]

NODE_LEVEL = 5  # proofs read perfect subtrees of 32 leaves and up from ledger_nodes
_CP_COLS = [checkpoints_table.c[name] for name in CHECKPOINT_COLUMNS]


def registered_keys(conn: sa.Connection) -> list[tuple[str, bytes]]:
    """(key_id, public key PEM) in registration order."""
    rows = conn.execute(sa.select(keys_table.c.key_id, keys_table.c.public_key_pem).order_by(keys_table.c.position))
    return [(key_id, pem.encode("ascii")) for key_id, pem in rows]


def newest_head(conn: sa.Connection) -> Checkpoint | None:
    row = conn.execute(sa.select(*_CP_COLS).order_by(checkpoints_table.c.size.desc()).limit(1)).first()
    return None if row is None else Checkpoint.from_row(row)


def signing_key_id(conn: sa.Connection, signer: LedgerSigner, head_seq: int, witness: Witness | None,
                   ledger_name: str, *, may_mint: bool = True) -> str:
    """The key id to sign with, registering a brand-new ledger's key; refuses as the module doc says.

    ``may_mint=False`` (a deployment's appends: :func:`minting_allowed`) never makes a key file,
    even for a brand-new ledger: a key file an operator put in place is registered, and
    otherwise the operator runs ``governance keys init`` once, on purpose.
    """
    keys = registered_keys(conn)
    if not keys:
        if head_seq:
            raise LedgerIntegrityError(
                f"ledger {ledger_name} has {head_seq} entries but no registered signing key (keys deleted?); "
                f"not appending: run governance audit verify")
        if witness is not None and witness.newest() is not None:
            raise LedgerIntegrityError(
                f"ledger {ledger_name} is empty but witness {witness.location} holds its tree heads "
                f"(ledger deleted?); not appending: run governance audit verify")
        if not signer.exists():
            if not may_mint:
                raise KeyMaterialError(
                    f"ledger {ledger_name} has no signing key yet and this is a deployment "
                    f"(GOVERNANCE_KEY_PROVIDER is set): run governance keys init once, then share {signer.path}")
            signer.create()  # the embedded default's first use of a brand-new ledger is its keys init
        conn.execute(keys_table.insert().values(
            key_id=signer.key_id(), position=1, public_key_pem=signer.public_key_pem().decode("ascii"),
            created_at=utc_stamp()))
        return signer.key_id()
    current = keys[-1][0]
    if not signer.exists():
        raise KeyMaterialError(
            f"ledger {ledger_name} is signed by key {current} but {signer.path} is missing: restore that file "
            f"from your key backup (its key id is {current}); a new key is never made for an existing ledger")
    mine = signer.key_id()
    if mine != current and signer.next_path.is_file() and _key_id_of_file(signer) == current:
        signer.promote_next()  # a rotation the ledger recorded, interrupted before the files were switched
        mine = signer.key_id()
    if mine != current:
        if mine in {key_id for key_id, _ in keys}:
            raise KeyMaterialError(f"{signer.path} holds key {mine}, which this ledger rotated out; "
                                   f"restore the current key {current}")
        raise KeyMaterialError(f"{signer.path} holds key {mine}, which is not this ledger's key "
                               f"(the ledger is signed by {current}): a foreign key is never used")
    return mine


def minting_allowed() -> bool:
    """May an append make a brand-new ledger's key? Only on the embedded default (no key provider
    configured); a deployment's workers must never each mint their own (issue 15)."""
    return not os.environ.get("GOVERNANCE_KEY_PROVIDER", "").strip()


def _key_id_of_file(signer: LedgerSigner) -> str | None:
    try:
        return key_id_of(signer.prepare_next().public_key())
    except KeyMaterialError:
        return None


@dataclass
class SealState:
    """The trusted starting point for new tree heads: the newest head and its compact range."""

    head: Checkpoint | None
    tree: CompactRange
    last_hash: str
    witness_size: int


def _trusted_start(conn: sa.Connection, witness: Witness | None, keys: dict[str, bytes],
                   on_node: Callable[[int, int, bytes], None]) -> SealState:
    head = newest_head(conn)
    witnessed = witness.newest() if witness is not None else None
    if witnessed is not None and (head is None or witnessed.size > head.size):
        raise LedgerIntegrityError(
            f"not sealing: witness {witness.location} holds a tree head at size {witnessed.size} but the newest in "  # type: ignore[union-attr]
            f"the ledger is at size {head.size if head else 0} (entries and tree heads deleted)",
            (head.size if head else 0) + 1)
    if head is None:
        return SealState(None, CompactRange(on_node=on_node, node_level=NODE_LEVEL), GENESIS_HASH, 0)
    if witnessed is not None and witnessed.size == head.size and witnessed.signed() != head.signed():
        raise LedgerIntegrityError(f"not sealing: the tree head at size {head.size} differs from the witness's")
    pem = keys.get(head.key_id)
    try:
        if pem is None:
            raise InvalidSignature
        load_public_key(pem, head.key_id).verify(bytes.fromhex(head.signature), head.payload())
        tree = CompactRange(head.size, [bytes.fromhex(h) for h in head.frontier], on_node=on_node, node_level=NODE_LEVEL)
    except (InvalidSignature, ValueError, TypeError):
        raise LedgerIntegrityError(f"not sealing: the newest tree head (size {head.size}) is not validly signed "
                                   f"by a registered key") from None
    if tree.root().hex() != head.root:
        raise LedgerIntegrityError(f"not sealing: the stored compact range of tree head {head.size} "
                                   f"does not fold to its signed root")
    return SealState(head, tree, head.head, witnessed.size if witnessed is not None else 0)


@dataclass
class Sealed:
    """What :func:`seal` signed, and the witness's newest size before it (for the catch-up)."""

    heads: list[Checkpoint]
    witness_size: int


def seal(conn: sa.Connection, signer: LedgerSigner, key_id: str, sizes: Sequence[int],
         fresh: Sequence[tuple[int, str, str]], witness: Witness | None) -> Sealed:
    """Sign tree heads at ``sizes`` after checking the chain from the trusted start (module doc).

    ``fresh`` are rows this transaction just computed, ``(seq, body, entry_hash)``
    in order; entries between the trusted head and the first of them are read
    back from the database and re-hashed.
    """
    keys = registered_keys(conn)
    nodes: list[dict[str, Any]] = []
    state = _trusted_start(conn, witness, dict(keys),
                           lambda level, idx, digest: nodes.append({"level": level, "idx": idx, "hash": digest.hex()}))
    start = state.tree.size
    sizes = sorted(s for s in sizes if s > start)
    if not sizes:
        return Sealed([], state.witness_size)
    first_fresh = fresh[0][0] if fresh else sizes[-1] + 1
    prev = state.last_hash
    leaves: list[bytes] = []
    stored = conn.execute(
        sa.select(entries_table.c.seq, entries_table.c.body, entries_table.c.entry_hash)
        .where(entries_table.c.seq > start, entries_table.c.seq < first_fresh).order_by(entries_table.c.seq))
    expected = start
    for seq, body, stored_hash in stored:
        expected += 1
        if seq != expected:
            raise LedgerIntegrityError(f"not sealing: entry {expected} is missing", expected)
        computed = entry_hash(prev, body)
        if computed != stored_hash:
            raise LedgerIntegrityError(f"not sealing: entry {seq} does not match its hash (altered)", seq)
        leaves.append(bytes.fromhex(computed))
        prev = computed
    for seq, _body, fresh_hash in fresh:
        if seq != expected + 1:
            raise LedgerError(f"not sealing: entry {expected + 1} is missing")
        leaves.append(bytes.fromhex(fresh_hash))
        expected, prev = seq, fresh_hash
        if seq >= sizes[-1]:
            break
    if expected < sizes[-1]:
        raise LedgerError(f"not sealing: the ledger has {expected} entries, fewer than {sizes[-1]}")
    heads: list[Checkpoint] = []
    previous = state.head
    key_ids = tuple(k for k, _ in keys)
    done = start
    for size in sizes:
        state.tree.extend(leaves[done - start:size - start])
        done = size
        head_hash = leaves[size - start - 1].hex()
        signed_at = utc_stamp()
        prev_hash = previous.hash() if previous is not None else GENESIS_HASH
        unsigned = Checkpoint(size, state.tree.root().hex(), head_hash, prev_hash, key_ids, signed_at, key_id, "")
        head = Checkpoint(size, unsigned.root, head_hash, prev_hash, key_ids, signed_at, key_id,
                          signer.sign(unsigned.payload()), tuple(h.hex() for h in state.tree.hashes))
        heads.append(head)
        previous = head
    conn.execute(checkpoints_table.insert(), [h.to_row() for h in heads])
    if nodes:
        conn.execute(nodes_table.insert(), nodes)
    return Sealed(heads, state.witness_size)


def register_key(conn: sa.Connection, public_pem: bytes) -> str:
    """Append a public key to the ledger's keys (rotation); returns its key id."""
    key_id = key_id_of(load_public_key(public_pem, "new key"))
    position = conn.execute(sa.select(sa.func.coalesce(sa.func.max(keys_table.c.position), 0))).scalar_one() + 1
    conn.execute(keys_table.insert().values(key_id=key_id, position=position,
                                            public_key_pem=public_pem.decode("ascii"), created_at=utc_stamp()))
    return key_id

