"""Signing keys of a ledger: ``keys init`` and ``keys rotate`` (recorded in the ledger itself).

Module functions over a :class:`~governance.ledger.ledger.Ledger` so the
class keeps to appending, sealing and reading; the methods of the same names
call these.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from governance.errors import LedgerError
from governance.ledger.canonical import entry_body_text, entry_hash
from governance.ledger.schema import entries_table, prepare_event
from governance.ledger.sealing import register_key, seal, signing_key_id
from governance.ledger.signing import fingerprint, key_id_of, public_pem

if TYPE_CHECKING:
    from governance.ledger.ledger import Ledger

__all__ = ["init_key", "rotate_key"]


def init_key(self: "Ledger") -> str:
    """``keys init``: the key id this ledger signs with, minting and registering one only
    for a brand-new ledger; for an existing ledger, its key must already be here."""
    signer = self._require_signer()
    with self._errors("keys init"), self._transaction(write=True) as conn:
        self._lock(conn)
        seq, _ = self._head_row(conn)
        return signing_key_id(conn, signer, seq, self.witness, self.name)

def rotate_key(self: "Ledger", *, actor: str, reason: str | None = None, as_of: datetime | None = None) -> tuple[str, str]:
    """``keys rotate``: record the rotation, register the new key, seal with the old one, switch.

    The entry ``ledger.key.rotated`` and a tree head listing the new key,
    signed by the old key, commit together; then the files switch, and an
    entry ``ledger.key.activated`` gets the new key's first tree head, so the
    newest head is signed by the new key. Returns (old key id, new key id).
    """
    signer = self._require_signer()
    new_key = signer.prepare_next()
    new_id = key_id_of(new_key.public_key())
    with self._errors("keys rotate"), self._transaction(write=True) as conn:
        self._lock(conn)
        seq, prev = self._head_row(conn)
        if seq == 0:
            raise LedgerError("the ledger is empty: there is no key to rotate yet (governance keys init)")
        old_id = signing_key_id(conn, signer, seq, self.witness, self.name)
        values, _ = prepare_event({"actor": actor, "action": "ledger.key.rotated", "reason": reason,
                                   "details": {"old_key_id": old_id, "new_key_id": new_id,
                                               "new_fingerprint": fingerprint(new_key.public_key())}, "as_of": as_of})
        body = entry_body_text((seq + 1, *values))
        digest = entry_hash(prev, body)
        conn.execute(entries_table.insert(), [{"seq": seq + 1, "body": body, "entry_hash": digest}])
        register_key(conn, public_pem(new_key.public_key()))
        sealed = seal(conn, signer, old_id, [seq + 1], [(seq + 1, body, digest)], self.witness)
    self._publish(sealed.witness_size)
    signer.promote_next()
    # The new key's first tree head, at once: auditors switch to the new fingerprint now.
    self._checked_key = None
    self.append(actor=actor, action="ledger.key.activated", details={"key_id": new_id}, as_of=as_of)
    self.checkpoint()
    return old_id, new_id
