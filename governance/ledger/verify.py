"""Verification: tree heads, keys, one streamed pass over entries, and the witness.

:func:`verify_entries` is shared by the database check and bundles. Given the
entries as ``(body, entry_hash)`` byte pairs in ``seq`` order, the signed tree
heads (checkpoints), the registered keys in registration order, and optionally
a witness's tree heads and an auditor's saved head, it checks:

1. **keys**: each public key's fingerprint starts with its key id;
2. **the chain of tree heads**: sizes increase; each head's ``prev`` is the
   hash of the one before (64 zeros for the first); its key list extends the
   previous one; it is signed by the *current* key of the previous head (the
   last in its key list; the first head by the last key it lists itself), and
   the signature is valid. The newest head's key list is exactly the
   registered keys, so deleting a key, or a head that registered one, shows;
3. **entries**: ``entry_hash = SHA-256(0x00 || prev_hash || "\\n" || body)``
   chains from 64 zeros, equals the stored hash, and is the entry's Merkle
   leaf; at every tree head's size the RFC 9162 root of the leaves so far and
   the head entry's hash equal what the head signs; no head is larger than the
   ledger;
4. **the witness** (when given): every witnessed head is in the database,
   identical; a witnessed head larger than the newest in the database means
   entries and heads were deleted;
5. ``expect_key_id``: the newest head is signed by the key the auditor expects.

It stops at the first failure with one line. Memory is constant in the number
of entries (tree heads and keys are few; the tree is a compact range).
"""

from __future__ import annotations

import binascii
import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidSignature

from governance.errors import GovernanceError, LedgerIntegrityError
from governance.ledger.canonical import GENESIS_HASH
from governance.ledger.merkle import CompactRange
from governance.ledger.schema import Checkpoint
from governance.ledger.signing import fingerprint, load_public_key

__all__ = [
    "VerifyReport", "verify_entries", "check_tree_heads", "check_head", "matches_key", "PROGRESS_EVERY", "Failure",
    "PassResult", "row_failure", "stream_pass",
]

PROGRESS_EVERY = 1 << 16  # entries between progress callbacks


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of one verification. ``first_bad_seq`` is None when ok, or
    when the failure is not tied to one entry (a key, manifest or witness problem)."""

    ok: bool
    entries: int
    checkpoints: int
    head_hash: str | None
    first_bad_seq: int | None = None
    reason: str | None = None
    unsealed: int = 0
    key_ids: tuple[str, ...] = ()
    fingerprints: dict[str, str] = field(default_factory=dict)
    head_key_id: str | None = None
    tree_size: int = 0
    root: str | None = None
    witness: str | None = None
    witnessed: int = 0
    since: dict[str, Any] | None = None
    source: str = "database"
    seconds: float = 0.0

    def summary(self) -> str:
        """The one-line verdict the CLI prints."""
        if self.ok:
            return f"ledger OK: {self.entries} entries, {self.checkpoints} checkpoints, head {self.head_hash or '-'}"
        where = f" at entry {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"ledger TAMPERED{where}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["key_ids"] = list(self.key_ids)
        return data


class Failure(Exception):
    """One verification failure: the first bad entry (or None) and a one-line reason."""

    def __init__(self, seq: int | None, reason: str, *, at: int | None = None) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason
        self.at = at if at is not None else (seq or 0)  # entries read when it was found


def matches_key(expected: str, key_fingerprint: str) -> bool:
    """Whether ``expected`` (a 16-hex key id or the full 64-hex fingerprint) names the key."""
    expected = expected.strip().lower()
    return len(expected) >= 16 and key_fingerprint.startswith(expected)


def load_keys(keys: Sequence[tuple[str, bytes]]) -> tuple[dict[str, Any], dict[str, str]]:
    """(key_id -> public key, key_id -> fingerprint); Failure on a bad or replaced key."""
    loaded: dict[str, Any] = {}
    prints: dict[str, str] = {}
    for key_id, pem in keys:
        try:
            key = load_public_key(pem, f"for key id {key_id}")
        except GovernanceError as error:
            raise Failure(None, str(error)) from None
        prints[key_id] = fingerprint(key)
        if prints[key_id][:16] != key_id:
            raise Failure(None, f"public key stored as {key_id} has key id {prints[key_id][:16]} (key replaced)")
        loaded[key_id] = key
    return loaded, prints


def check_tree_heads(heads: Sequence[Checkpoint], keys: Mapping[str, Any], key_order: Sequence[str]) -> None:
    """The chain of signed tree heads and the sealed key set (steps 2 of the module doc)."""
    prev_hash, prev_keys, prev_size = GENESIS_HASH, (), 0
    for head in heads:
        where = f"tree head at size {head.size}"
        if type(head.size) is not int or head.size <= prev_size:
            raise Failure(None, f"tree heads are out of order or repeated at size {head.size!r}")
        if head.prev != prev_hash:
            raise Failure(prev_size + 1 if prev_size else 1,
                          f"{where} does not follow the tree head at size {prev_size or '-'} "
                          f"(a tree head was removed, altered or replaced)")
        if tuple(head.keys[:len(prev_keys)]) != tuple(prev_keys):
            raise Failure(None, f"{where} drops or reorders signing keys sealed before it")
        current = prev_keys[-1] if prev_keys else (head.keys[-1] if head.keys else None)
        if head.key_id != current:
            raise Failure(None, f"{where} is signed by key {head.key_id}, not the ledger's current key {current}")
        key = keys.get(head.key_id)
        if key is None:
            raise Failure(None, f"{where} is signed by key {head.key_id}, which is not registered in the ledger")
        try:
            key.verify(bytes.fromhex(head.signature), head.payload())
        except (InvalidSignature, ValueError, TypeError):
            raise Failure(None, f"{where}: signature is not valid") from None
        except GovernanceError as error:
            raise Failure(None, f"{where}: {error}") from None
        prev_hash, prev_keys, prev_size = head.hash(), tuple(head.keys), head.size
    if heads and tuple(key_order) != prev_keys:
        missing = [k for k in prev_keys if k not in key_order]
        if missing:
            raise Failure(None, f"signing key {missing[0]} sealed by the tree head at size {prev_size} "
                                f"is missing from the ledger's keys (keys deleted)")
        raise Failure(None, f"ledger keys {', '.join(key_order)} differ from the keys sealed by the tree head "
                            f"at size {prev_size} ({', '.join(prev_keys)})")


def check_witness(heads: Sequence[Checkpoint], witnessed: Sequence[Checkpoint], location: str) -> None:
    """Every witnessed tree head must be in the database, identical (step 4)."""
    by_size = {head.size: head for head in heads}
    newest = heads[-1].size if heads else 0
    if witnessed and witnessed[-1].size > newest:
        raise Failure(newest + 1, f"witness {location} holds a tree head at size {witnessed[-1].size}, but the newest "
                                  f"in the ledger is at size {newest} (entries and tree heads deleted)")
    for head in witnessed:
        mine = by_size.get(head.size)
        if mine is None:
            if head.size > newest:
                raise Failure(newest + 1, f"witness {location} holds a tree head at size {head.size}, but the newest "
                                          f"in the ledger is at size {newest} (entries and tree heads deleted)")
            raise Failure(None, f"witness {location} holds a tree head at size {head.size} the ledger no longer has")
        if mine.signed() != head.signed():
            raise Failure(None, f"tree head at size {head.size} differs from the one witness {location} holds")


EntryPass = Callable[[Sequence[int], Mapping[int, Checkpoint]], "PassResult"]


@dataclass(frozen=True)
class PassResult:
    """What a pass over the entries found: how many, the last entry hash, roots at extra sizes."""

    entries: int
    head_hash: bytes
    extra_roots: dict[int, bytes]


def verify_entries(
    rows: Iterable[Sequence[Any]],
    heads: Sequence[Checkpoint],
    keys: Sequence[tuple[str, bytes]],
    *,
    witnessed: Sequence[Checkpoint] | None = None,
    witness_location: str | None = None,
    expect_key_id: str | None = None,
    extra_sizes: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    source: str = "database",
    entry_pass: EntryPass | None = None,
) -> tuple[VerifyReport, dict[int, bytes]]:
    """Verify a ledger (module doc).

    ``rows`` yields ``(seq, body bytes, entry_hash ASCII bytes)``, read in one
    pass here; or ``entry_pass`` does that step another way (on several cores:
    :mod:`governance.ledger.parallel`) and must find the same first failure.
    Returns the report and the roots at ``extra_sizes`` (for an auditor's saved head).
    """
    started = time.monotonic()
    prints: dict[str, str] = {}
    found = PassResult(0, GENESIS_HASH.encode("ascii"), {})

    def report(ok: bool, bad: int | None = None, reason: str | None = None, at: int = 0) -> VerifyReport:
        newest = heads[-1] if heads else None
        seq = found.entries if ok else at
        return VerifyReport(
            ok=ok, entries=seq, checkpoints=len(heads),
            head_hash=found.head_hash.decode("ascii") if (ok and seq) else None,
            first_bad_seq=bad, reason=reason, unsealed=seq - (newest.size if newest else 0) if ok else 0,
            key_ids=tuple(sorted({h.key_id for h in heads})), fingerprints=dict(prints),
            head_key_id=newest.key_id if newest else None, tree_size=newest.size if newest else 0,
            root=newest.root if newest else None, witness=witness_location,
            witnessed=len(witnessed or ()), source=source, seconds=round(time.monotonic() - started, 3),
        )

    try:
        loaded, prints = load_keys(keys)
        check_tree_heads(heads, loaded, [key_id for key_id, _ in keys])
        stops = sorted({h.size for h in heads} | set(extra_sizes))
        by_size = {h.size: h for h in heads}
        if entry_pass is None:
            found = stream_pass(rows, stops, by_size, progress)
        else:
            found = entry_pass(stops, by_size)
            if progress is not None:
                progress(found.entries)
        if heads and heads[-1].size > found.entries:
            raise Failure(found.entries + 1,
                          f"entries after seq {found.entries} missing: tree head at size {heads[-1].size}",
                          at=found.entries)
        if witnessed:
            check_witness(heads, witnessed, witness_location or "witness")
        if expect_key_id is not None:
            _check_expected_key(expect_key_id, heads, prints)
    except Failure as failure:
        return report(False, failure.seq, failure.reason, failure.at), {}
    except LedgerIntegrityError as error:  # a bundle line or witness record that cannot be read
        return report(False, error.entry_seq, str(error), error.entry_seq or 0), {}
    return report(True), found.extra_roots


def check_head(head: Checkpoint, root: bytes, head_hash: bytes, last_sealed: int) -> None:
    """The tree of the first ``head.size`` entries must have the root and head entry the head signs."""
    if root.hex() != head.root or head.head != head_hash.decode("ascii"):
        raise Failure(last_sealed + 1,
                      f"entries {last_sealed + 1}-{head.size} do not match the tree head signed at size "
                      f"{head.size} (altered and re-hashed, inserted or removed)", at=head.size)


def stream_pass(rows: Iterable[Sequence[Any]], stops: Sequence[int], by_size: Mapping[int, Checkpoint],
                progress: Callable[[int], None] | None) -> PassResult:
    """Step 3 of the module doc in one streamed pass: chain, leaves, the root at every stop size."""
    seq = 0
    prev = GENESIS_HASH.encode("ascii")
    extra_roots: dict[int, bytes] = {}
    tree = CompactRange()
    mask = PROGRESS_EVERY - 1
    stop_iter = iter(stops)
    next_stop = next(stop_iter, -1)
    last_sealed = 0
    sha, hexlify = hashlib.sha256, binascii.hexlify
    leaves: list[bytes] = []
    append = leaves.append
    # One comparison per row decides whether anything but hashing happens: the
    # next tree head's size, or the next progress/flush point, whichever is first.
    stop = _next_stop(0, next_stop)
    for number, body, stored in rows:  # the hot loop: a million times, keep it to hashing
        digest = sha(b"\x00" + prev + b"\n" + body).digest()
        prev = hexlify(digest)
        seq += 1
        if prev != stored or number != seq:
            raise row_failure(seq, number)
        append(digest)
        if seq == stop:
            tree.extend(leaves)
            leaves.clear()
            if progress is not None and not seq & mask:
                progress(seq)
            if seq == next_stop:
                head = by_size.get(seq)
                if head is not None:
                    check_head(head, tree.root(), prev, last_sealed)
                    last_sealed = seq
                else:
                    extra_roots[seq] = tree.root()
                next_stop = next(stop_iter, -1)
            stop = _next_stop(seq, next_stop)
    if progress is not None:
        progress(seq)
    return PassResult(seq, prev, extra_roots)


def _next_stop(seq: int, next_head: int) -> int:
    """The next size at which the loop must stop: a tree head, or a multiple of PROGRESS_EVERY."""
    flush = (seq // PROGRESS_EVERY + 1) * PROGRESS_EVERY
    return flush if next_head == -1 or next_head > flush else next_head


def row_failure(seq: int, number: Any) -> Failure:
    """Entry ``seq`` (found as ``number``) breaks the chain: missing, out of place, or altered."""
    if number != seq:
        if type(number) is int and number > seq:
            return Failure(seq, f"entry {seq} is missing (next entry found is {number})")
        return Failure(seq, f"entry {number!r} found where entry {seq} should be (duplicate or out of order)")
    return Failure(seq, f"entry {seq} does not match its hash (entry altered, or entries before it removed)")


def _check_expected_key(expected: str, heads: Sequence[Checkpoint], prints: Mapping[str, str]) -> None:
    """The newest tree head must be signed by the key the auditor expects."""
    if not heads:
        raise Failure(None, f"no signed tree head, so nothing is signed by expected key {expected}")
    newest = heads[-1]
    if not matches_key(expected, prints.get(newest.key_id, "")):
        raise Failure(
            None,
            f"newest tree head (size {newest.size}) is signed by key {newest.key_id} "
            f"(fingerprint {prints.get(newest.key_id, 'unknown')}), not the expected key {expected}",
        )
