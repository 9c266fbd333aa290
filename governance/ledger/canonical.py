"""Canonical JSON and the ledger's hash rules: the exact bytes that get hashed and signed.

Canonical JSON here is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8, over a deliberately small value space:
``str``, ``int`` (signed 64-bit), ``bool``, ``None``, ``list`` (``tuple`` is
accepted and encoded as a list) and ``dict`` with ``str`` keys. Floats, NaN,
bytes and anything else are refused, because their text differs across
databases, drivers and languages; an auditor re-implementing the check must get
byte-identical output. ``docs/ledger.md`` states the algorithm in full.

An entry's hash is ``sha256(0x00 || prev_hash || "\\n" || canonical(body))`` where
``body`` is the entry without ``prev_hash`` and ``entry_hash``: the RFC 9162 leaf
hash of ``prev_hash + "\\n" + canonical(body)``, so it both chains the entries and
is their Merkle leaf (:func:`entry_hash`). :func:`entry_body_text` builds the
canonical body by concatenation when an entry is appended; the ledger stores
that text, and verification hashes the stored bytes without parsing them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from governance.errors import LedgerError

__all__ = [
    "CanonicalError",
    "GENESIS_HASH",
    "BODY_FIELDS",
    "ENTRY_FIELDS",
    "TREE_HEAD_FORMAT",
    "TREE_HEAD_KEYS",
    "check_canonical",
    "canonical",
    "canonical_bytes",
    "canonical_unchecked",
    "entry_body_text",
    "entry_hash",
    "entry_line",
    "tree_head_payload",
    "tree_head_hash",
]

GENESIS_HASH = "0" * 64
# The entry fields that are hashed, in canonical (sorted) order.
BODY_FIELDS = (
    "action", "actor", "counts", "details", "entry_id", "reason",
    "record_ids", "recorded_at", "rule", "seq", "store",
)
ENTRY_FIELDS = tuple(sorted(BODY_FIELDS + ("prev_hash", "entry_hash")))
TREE_HEAD_FORMAT = "governance-ledger-tree-head/1"
TREE_HEAD_KEYS = frozenset({"size", "root", "head", "prev", "keys", "signed_at", "key_id", "signature"})

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# json's own C string encoder with ensure_ascii=False: the one json.dumps uses.
_enc = json.encoder.encode_basestring
_sha256 = hashlib.sha256


class CanonicalError(LedgerError):
    """A value cannot be encoded canonically (float, bytes, non-str key, ...)."""


def check_canonical(value: Any, where: str = "value") -> None:
    """Raise CanonicalError unless ``value`` is in the canonical value space."""
    kind = type(value)
    if value is None or kind is bool:
        return
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise CanonicalError(f"{where}: string is not valid Unicode (lone surrogate)") from None
        return
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise CanonicalError(f"{where}: integer outside the signed 64-bit range")
        return
    if kind is list or kind is tuple:
        for index, item in enumerate(value):
            check_canonical(item, f"{where}[{index}]")
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalError(f"{where}: dict key of type {type(key).__name__} (only str keys allowed)")
            check_canonical(key, f"{where} key")
            check_canonical(item, f"{where}.{key}")
        return
    if kind is float:
        raise CanonicalError(f"{where}: floats are not allowed (use an int or a string)")
    raise CanonicalError(
        f"{where}: type {kind.__name__} is not allowed (only str, int, bool, None, list, dict)"
    )


def canonical(value: Any) -> str:
    """The canonical JSON text of ``value`` (checked first)."""
    check_canonical(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_unchecked(value: Any) -> str:
    """:func:`canonical` without the value-space check, for values already validated."""
    return _ENCODER.encode(value)


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON of ``value`` as UTF-8 bytes."""
    return canonical(value).encode("utf-8")


def entry_body_text(row: Sequence[Any]) -> str:
    """``canonical(body)`` built from a row in ``ENTRY_COLUMNS`` order (extra items ignored).

    ``row[8:11]`` (record_ids, counts, details) must already be canonical JSON
    texts. Keys appear in sorted order (``BODY_FIELDS``); strings go through the
    encoder ``json.dumps`` itself uses; ``seq`` is a decimal int. This runs once
    per entry in verification, hence one f-string and no helper calls.
    """
    (seq, entry_id, recorded_at, actor, action, reason, rule, store, record_ids, counts, details) = row[:11]
    return (
        f'{{"action":{_enc(action)},"actor":{_enc(actor)},"counts":{counts},'
        f'"details":{details},"entry_id":{_enc(entry_id)},'
        f'"reason":{"null" if reason is None else _enc(reason)},'
        f'"record_ids":{record_ids},"recorded_at":{_enc(recorded_at)},'
        f'"rule":{"null" if rule is None else _enc(rule)},'
        f'"seq":{seq},"store":{"null" if store is None else _enc(store)}}}'
    )


def entry_hash(prev_hash: str, body_text: str) -> str:
    """An entry's hash: the RFC 9162 leaf hash of ``prev_hash + "\\n" + body``, lower-case hex.

    ``SHA-256(0x00 || prev_hash || "\\n" || canonical(body))``: the same value links
    the chain (the next entry's ``prev_hash``) and is the entry's Merkle leaf hash,
    so one SHA-256 per entry serves both structures.
    """
    return _sha256(f"\x00{prev_hash}\n{body_text}".encode("utf-8")).hexdigest()


def entry_line(body_text: str, prev_hash: str, hash_hex: str) -> str:
    """``canonical(full entry)``, ``prev_hash`` and ``entry_hash`` included: a bundle line.

    Spliced into the canonical body rather than re-encoded: in sorted order
    ``entry_hash`` goes just before the top-level ``entry_id`` and ``prev_hash``
    just before ``reason``. Both are the *last* occurrences of those member
    openings: nothing after them can hold an object, and inside strings a quote
    is always escaped. Tests check this equals ``canonical()`` on random entries.
    """
    at = body_text.rfind(',"entry_id":"')
    text = f'{body_text[:at]},"entry_hash":"{hash_hex}"{body_text[at:]}'
    at = text.rfind(',"reason":')
    return f'{text[:at]},"prev_hash":"{prev_hash}"{text[at:]}'


def tree_head_payload(size: int, root: str, head: str, prev: str, keys: Sequence[str],
                      signed_at: str, key_id: str) -> bytes:
    """The exact bytes a tree head's Ed25519 signature covers."""
    return canonical_bytes({
        "format": TREE_HEAD_FORMAT, "head": head, "key_id": key_id, "keys": list(keys),
        "prev": prev, "root": root, "signed_at": signed_at, "size": size,
    })


def tree_head_hash(signed: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical signed tree head, signature included: what ``prev`` names."""
    return _sha256(canonical_bytes(dict(signed))).hexdigest()
