"""Canonical JSON and the ledger's hash rules: the exact bytes that get hashed and signed.

Canonical JSON here is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8, over a deliberately small value space:
``str``, ``int`` (signed 64-bit), ``bool``, ``None``, ``list`` (``tuple`` is
accepted and encoded as a list) and ``dict`` with ``str`` keys. Floats, NaN,
bytes and anything else are refused, because their text differs across
databases, drivers and languages; an auditor re-implementing the check must get
byte-identical output. ``docs/ledger.md`` states the algorithm in full.

An entry's hash is ``sha256(prev_hash + "\\n" + canonical(body))`` where ``body``
is the entry without ``prev_hash`` and ``entry_hash``. :func:`entry_body_text`
builds that canonical text by concatenation from already-canonical JSON texts
(the stored ``record_ids``/``counts``/``details`` columns) so verification need
not parse JSON; tests check it equals :func:`canonical` on random entries.
Appending and verifying both hash through :func:`row_hash`.
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
    "CHECKPOINT_FIELDS",
    "check_canonical",
    "canonical",
    "canonical_bytes",
    "canonical_unchecked",
    "entry_body_text",
    "entry_text",
    "hash_entry",
    "row_hash",
    "checkpoint_payload",
]

GENESIS_HASH = "0" * 64
# The entry fields that are hashed, in canonical (sorted) order.
BODY_FIELDS = (
    "action", "actor", "counts", "details", "entry_id", "reason",
    "record_ids", "recorded_at", "rule", "seq", "store",
)
ENTRY_FIELDS = tuple(sorted(BODY_FIELDS + ("prev_hash", "entry_hash")))
CHECKPOINT_FIELDS = ("entry_hash", "key_id", "seq", "signed_at")

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


def row_hash(prev_hash: str, row: Sequence[Any]) -> str:
    """The entry hash of ``row`` (``ENTRY_COLUMNS`` order) chained after ``prev_hash``."""
    return _sha256(f"{prev_hash}\n{entry_body_text(row)}".encode("utf-8")).hexdigest()


def entry_text(row: Sequence[Any]) -> str:
    """``canonical(full entry)``, ``prev_hash`` and ``entry_hash`` included: a bundle line.

    ``row`` is in ``ENTRY_COLUMNS`` order with the JSON columns as canonical text.
    """
    (seq, entry_id, recorded_at, actor, action, reason, rule, store,
     record_ids, counts, details, prev_hash, entry_hash) = row
    return (
        f'{{"action":{_enc(action)},"actor":{_enc(actor)},"counts":{counts},'
        f'"details":{details},"entry_hash":{_enc(entry_hash)},"entry_id":{_enc(entry_id)},'
        f'"prev_hash":{_enc(prev_hash)},"reason":{"null" if reason is None else _enc(reason)},'
        f'"record_ids":{record_ids},"recorded_at":{_enc(recorded_at)},'
        f'"rule":{"null" if rule is None else _enc(rule)},'
        f'"seq":{seq},"store":{"null" if store is None else _enc(store)}}}'
    )


def hash_entry(prev_hash: str, body_text: str) -> str:
    """``sha256(prev_hash + "\\n" + body_text)`` over UTF-8, as lower-case hex."""
    return hashlib.sha256(f"{prev_hash}\n{body_text}".encode("utf-8")).hexdigest()


def checkpoint_payload(seq: int, entry_hash: str, signed_at: str, key_id: str) -> bytes:
    """The exact bytes a checkpoint's Ed25519 signature covers."""
    fields: Mapping[str, Any] = {"entry_hash": entry_hash, "key_id": key_id, "seq": seq, "signed_at": signed_at}
    return canonical_bytes(dict(fields))
