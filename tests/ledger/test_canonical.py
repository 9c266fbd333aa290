"""Canonical JSON: exact bytes, refusals, and the fast string builders equal canonical()."""

from __future__ import annotations

import hashlib
import json
import random
import uuid

import pytest

from governance.ledger.canonical import (
    BODY_FIELDS, ENTRY_FIELDS, GENESIS_HASH, CanonicalError, canonical, canonical_bytes, check_canonical,
    entry_body_text, entry_hash, entry_line, tree_head_payload,
)
from governance.ledger.schema import ENTRY_COLUMNS


def test_exact_encoding() -> None:
    value = {"b": [1, True, None, "x"], "a": {"z": -3, "é": "naïve ✓"}, "c": "quote\" back\\ nl\n tab\t \x01"}
    assert canonical(value) == (
        '{"a":{"z":-3,"é":"naïve ✓"},"b":[1,true,null,"x"],'
        '"c":"quote\\" back\\\\ nl\\n tab\\t \\u0001"}'
    )
    assert canonical_bytes({"k": "é"}) == b'{"k":"\xc3\xa9"}'
    assert canonical((1, 2)) == "[1,2]"
    assert canonical("\u2028\x7f/") == '"\u2028\x7f/"'  # not escaped, unlike some encoders


@pytest.mark.parametrize(
    "value, message",
    [
        (1.5, "floats are not allowed"),
        (float("nan"), "floats are not allowed"),
        ({"a": [1, 2.0]}, r"value\.a\[1\]: floats"),
        (b"bytes", "type bytes is not allowed"),
        ({1: "x"}, "dict key of type int"),
        ({("a",): 1}, "dict key of type tuple"),
        ({"s": {1, 2}}, "type set is not allowed"),
        (2**63, "signed 64-bit"),
        (-(2**63) - 1, "signed 64-bit"),
        ("\ud800", "lone surrogate"),
        ({"\udfff": 1}, "lone surrogate"),
    ],
)
def test_values_outside_the_canonical_space_are_refused(value: object, message: str) -> None:
    with pytest.raises(CanonicalError, match=message):
        canonical(value)


def test_subclasses_are_refused_so_encoding_never_depends_on_them() -> None:
    class Name(str):
        pass

    with pytest.raises(CanonicalError):
        check_canonical(Name("x"))
    check_canonical([2**63 - 1, -(2**63), True, None, "", [], {}])


def test_field_orders_are_sorted() -> None:
    assert list(BODY_FIELDS) == sorted(BODY_FIELDS)
    assert list(ENTRY_FIELDS) == sorted(BODY_FIELDS + ("prev_hash", "entry_hash"))
    assert set(ENTRY_COLUMNS) == set(ENTRY_FIELDS)


_ALPHABET = (
    list("abcXYZ019 _-./:") + ['"', "\\", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\b", "\f"]
    + ["é", "ß", "中", "\u2028", "\u2029", "\ufeff", "\U0001f600", "\u0301", "\uffff"]
)


def _text(rng: random.Random, low: int = 0, high: int = 20) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(low, high)))


def _scalar(rng: random.Random) -> object:
    return rng.choice([None, True, False, rng.randint(-(2**63), 2**63 - 1), rng.randint(-5, 5), _text(rng)])


def _random_body(rng: random.Random) -> dict:
    details = {_text(rng, 0, 6): (_scalar(rng) if rng.random() < 0.7 else [_scalar(rng) for _ in range(3)])
               for _ in range(rng.randint(0, 4))}
    return {
        "seq": rng.randint(1, 10**12),
        "entry_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "recorded_at": _text(rng, 1, 30),
        "actor": _text(rng, 1),
        "action": _text(rng, 1),
        "reason": rng.choice([None, _text(rng)]),
        "rule": rng.choice([None, _text(rng)]),
        "store": rng.choice([None, _text(rng)]),
        "record_ids": [_text(rng, 1, 8) for _ in range(rng.randint(0, 4))],
        "counts": {_text(rng, 1, 6): rng.randint(0, 2**40) for _ in range(rng.randint(0, 3))},
        "details": details,
    }


def _row(body: dict) -> tuple:
    return tuple(
        canonical(body[name]) if name in ("record_ids", "counts", "details") else body[name]
        for name in ENTRY_COLUMNS[:11]
    )


def test_fast_builders_equal_canonical_on_random_entries() -> None:
    rng = random.Random(20240607)
    for _ in range(3000):
        body = _random_body(rng)
        row = _row(body)
        assert entry_body_text(row) == canonical(body)
        prev = hashlib.sha256(str(rng.random()).encode()).hexdigest()
        # The RFC 9162 leaf hash of prev_hash + "\n" + canonical(body), written out independently.
        digest = hashlib.sha256(b"\x00" + prev.encode("ascii") + b"\n" + canonical_bytes(body)).hexdigest()
        assert entry_hash(prev, canonical(body)) == digest
        full = {**body, "prev_hash": prev, "entry_hash": digest}
        assert entry_line(canonical(body), prev, digest) == canonical(full)
        assert json.loads(entry_line(canonical(body), prev, digest)) == full


def test_genesis_and_tree_head_payload() -> None:
    assert GENESIS_HASH == "0" * 64
    payload = tree_head_payload(7, "cd" * 32, "ab" * 32, "0" * 64, ["0123456789abcdef"],
                                "2025-01-02T03:04:05.000006Z", "0123456789abcdef")
    assert payload == (
        b'{"format":"governance-ledger-tree-head/1","head":"' + b"ab" * 32 + b'","key_id":"0123456789abcdef",'
        b'"keys":["0123456789abcdef"],"prev":"' + b"0" * 64 + b'","root":"' + b"cd" * 32 + b'",'
        b'"signed_at":"2025-01-02T03:04:05.000006Z","size":7}'
    )


def test_entry_line_splices_at_the_top_level_members() -> None:
    body = {"action": 'x,"reason":y', "actor": 'a,"entry_id":"b', "counts": {"entry_id": 1, "reason": 2},
            "details": {"entry_id": "e", "prev_hash": "p", "reason": None, "z": [1, ',"reason":']},
            "entry_id": "11111111-2222-3333-4444-555555555555", "reason": ',"entry_id":"x', "record_ids": ["r"],
            "recorded_at": "2025-01-01T00:00:00.000000Z", "rule": ',"reason":', "seq": 9, "store": None}
    full = {**body, "prev_hash": "a" * 64, "entry_hash": "b" * 64}
    assert entry_line(canonical(body), "a" * 64, "b" * 64) == canonical(full)
