"""Verification: one streamed pass over entries, for the database and for bundles.

:func:`verify_rows` takes entry rows (tuples in ``ENTRY_COLUMNS`` order, with
``record_ids``/``counts``/``details`` as canonical JSON text), the checkpoints
and the public keys, and checks, in ``seq`` order:

1. ``seq`` runs 1, 2, 3, ... with no gap, duplicate or reordering;
2. each ``prev_hash`` equals the recomputed hash of the entry before (the
   genesis hash, 64 zeros, for entry 1);
3. each stored ``entry_hash`` equals ``sha256(prev_hash + "\\n" + canonical(body))``;
4. each checkpoint is signed, by the key its ``key_id`` names, over its fields,
   and seals the recomputed hash of the entry at its ``seq``;
5. no checkpoint names a ``seq`` beyond the last entry (a truncated tail);
6. every public key's fingerprint matches its ``key_id``, and, if the caller
   gives one, the newest checkpoint is signed by the expected key.

It stops at the first failure and reports it in one line. Memory is constant in
the number of entries: only checkpoints and keys (few) are held.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Mapping

from cryptography.exceptions import InvalidSignature

from governance.errors import GovernanceError, LedgerIntegrityError
from governance.keys import fingerprint, load_public_key
from governance.ledger.canonical import GENESIS_HASH, row_hash
from governance.ledger.schema import Checkpoint

__all__ = ["VerifyReport", "verify_rows", "matches_key", "PROGRESS_EVERY"]

PROGRESS_EVERY = 1 << 16  # rows between progress callbacks (a bit mask test)


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of one verification. ``first_bad_seq`` is None when ok, or
    when the failure is not tied to one entry (a MANIFEST or key problem)."""

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


class _Failure(Exception):
    def __init__(self, seq: int | None, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


def matches_key(expected: str, key_fingerprint: str) -> bool:
    """Whether ``expected`` (a 16-hex key id or the full 64-hex fingerprint) names the key."""
    expected = expected.strip().lower()
    return len(expected) >= 16 and key_fingerprint.startswith(expected)


def _check_keys(public_keys: Mapping[str, bytes]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Load keys; return (key_id -> key, key_id -> fingerprint, key_id -> problem)."""
    loaded: dict[str, Any] = {}
    prints: dict[str, str] = {}
    problems: dict[str, str] = {}
    for key_id, pem in public_keys.items():
        try:
            key = load_public_key(pem, f"for key id {key_id}")
        except GovernanceError as error:
            problems[key_id] = str(error)
            continue
        prints[key_id] = fingerprint(key)
        if prints[key_id][:16] != key_id:
            problems[key_id] = f"public key stored as {key_id} has key id {prints[key_id][:16]} (key replaced)"
        else:
            loaded[key_id] = key
    return loaded, prints, problems


def _checkpoint_problem(cp: Checkpoint, keys: Mapping[str, Any], key_problems: Mapping[str, str]) -> str | None:
    if cp.key_id in key_problems:
        return f"checkpoint at seq {cp.seq}: {key_problems[cp.key_id]}"
    key = keys.get(cp.key_id)
    if key is None:
        return f"checkpoint at seq {cp.seq} is signed by unknown key {cp.key_id}"
    try:
        key.verify(bytes.fromhex(cp.signature), cp.payload())
    except (InvalidSignature, ValueError, TypeError):
        return f"checkpoint at seq {cp.seq}: signature is not valid"
    except GovernanceError as error:  # a field outside the canonical value space
        return f"checkpoint at seq {cp.seq}: {error}"
    return None


def verify_rows(
    rows: Iterable[Any],
    checkpoints: Iterable[Checkpoint],
    public_keys: Mapping[str, bytes],
    *,
    expect_key_id: str | None = None,
    progress: Callable[[int], None] | None = None,
    source: str = "database",
) -> VerifyReport:
    """Verify a ledger given as rows, checkpoints and public keys (see module doc)."""
    started = time.monotonic()
    keys, prints, key_problems = _check_keys(public_keys)
    sealed: dict[int, tuple[str, str | None]] = {}
    key_of_seq: dict[int, str] = {}
    count_cps = 0
    seq = 0
    prev = GENESIS_HASH

    def report(ok: bool, bad: int | None = None, reason: str | None = None) -> VerifyReport:
        last_cp = max(key_of_seq) if key_of_seq else None
        return VerifyReport(
            ok=ok, entries=seq, checkpoints=count_cps, head_hash=prev if (ok and seq) else None,
            first_bad_seq=bad, reason=reason, unsealed=seq - (last_cp or 0) if ok else 0,
            key_ids=tuple(sorted(set(key_of_seq.values()))), fingerprints=dict(prints),
            head_key_id=key_of_seq[last_cp] if last_cp is not None else None,
            source=source, seconds=round(time.monotonic() - started, 3),
        )

    try:
        for cp in checkpoints:
            if type(cp.seq) is not int or cp.seq < 1 or cp.seq in sealed:
                raise _Failure(None, f"checkpoint list is malformed (seq {cp.seq!r} invalid or repeated)")
            sealed[cp.seq] = (cp.entry_hash, _checkpoint_problem(cp, keys, key_problems))
            key_of_seq[cp.seq] = cp.key_id
            count_cps += 1
        hasher, mask = row_hash, PROGRESS_EVERY - 1  # locals: this loop runs a million times
        for row in rows:
            n = row[0]
            if n != seq + 1:
                expected = seq + 1
                if type(n) is int and n > expected:
                    raise _Failure(expected, f"entry {expected} is missing (next entry found is {n})")
                raise _Failure(expected, f"entry {n!r} found where entry {expected} should be (duplicate or out of order)")
            try:
                current = hasher(prev, row)
                # counts and details are spliced in as stored text; these two
                # characters pin the boundary between them (see docs/ledger.md).
                split_ok = row[9][-1:] == "}" and row[10][:1] == "{"
            except (TypeError, ValueError, GovernanceError):
                raise _Failure(n, f"entry {n} is malformed (a field has the wrong type)") from None
            if current != row[12] or row[11] != prev:
                _diagnose(prev, row)
            if not split_ok:
                raise _Failure(n, f"entry {n} has malformed counts/details columns")
            if n in sealed:
                sealed_hash, problem = sealed[n]
                if problem is not None:
                    raise _Failure(n, problem)
                if sealed_hash != current:
                    raise _Failure(n, f"entry {n} does not match the hash its signed checkpoint seals")
            prev = current
            seq = n
            if progress is not None and not n & mask:
                progress(n)
        beyond = [s for s in sealed if s > seq]
        if beyond:
            raise _Failure(seq + 1, f"entries after seq {seq} missing: checkpoint at seq {max(beyond)}")
        unused = sorted(set(key_problems) - set(key_of_seq.values()))
        if unused:
            raise _Failure(None, key_problems[unused[0]])
        if expect_key_id is not None:
            _check_expected_key(expect_key_id, key_of_seq, prints)
    except _Failure as failure:
        return report(False, failure.seq, failure.reason)
    except LedgerIntegrityError as error:  # a bundle line that cannot be read
        return report(False, error.entry_seq, str(error))
    if progress is not None:
        progress(seq)
    return report(True)


def _diagnose(prev: str, row: Any) -> None:
    """Name the entry that cannot be trusted when a row does not chain (slow path)."""
    n, stored_prev, stored_hash = row[0], row[11], row[12]
    if stored_prev == prev:
        raise _Failure(n, f"entry {n} content does not match its hash (entry altered)")
    # The link to the entry before is broken. If this entry hashes correctly
    # over its own prev_hash, the one before was altered and re-hashed after
    # this one was written; otherwise this one was altered or moved.
    if n == 1:
        raise _Failure(1, "entry 1 does not start from the genesis hash (prev_hash altered, or entries removed)")
    if row_hash(stored_prev, row) == stored_hash:
        raise _Failure(n - 1, f"chain breaks between entries {n - 1} and {n}: entry {n - 1} was altered")
    raise _Failure(n, f"entry {n} does not link to entry {n - 1} (prev_hash wrong, or entry altered or moved)")


def _check_expected_key(expected: str, key_of_seq: Mapping[int, str], prints: Mapping[str, str]) -> None:
    """The newest checkpoint must be signed by the key the auditor expects."""
    if not key_of_seq:
        raise _Failure(None, f"no signed checkpoint, so nothing is signed by expected key {expected}")
    last = max(key_of_seq)
    key_id = key_of_seq[last]
    if not matches_key(expected, prints.get(key_id, "")):
        raise _Failure(
            None,
            f"newest checkpoint (seq {last}) is signed by key {key_id} "
            f"(fingerprint {prints.get(key_id, 'unknown')}), not the expected key {expected}",
        )
