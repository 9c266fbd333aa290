"""Keyed pseudonyms: a known answer, stability within a study, unlinkability across studies."""

from __future__ import annotations

import hashlib
import hmac
import os

import pyarrow as pa

from governance.research.pseudonym import Pseudonymiser


def test_known_answer_is_truncated_hmac_sha256_of_store_entity_id() -> None:
    key = bytes(range(32))
    expected = hmac.new(key, b"default\x1fperson\x1fP000000100", hashlib.sha256).hexdigest()[:32]
    p = Pseudonymiser(key, "default")
    assert p.one("person", "P000000100") == expected
    assert p.column("person", pa.array(["P000000100"])).to_pylist() == [expected]


def test_a_column_matches_one_at_a_time_and_keeps_nulls() -> None:
    p = Pseudonymiser(os.urandom(32), "default")
    ids = [f"P{i % 7:09d}" for i in range(50)] + [None]
    column = p.column("person", pa.chunked_array([pa.array(ids[:20]), pa.array(ids[20:])]))
    assert column.to_pylist() == [None if i is None else p.one("person", i) for i in ids]


def test_stable_within_a_study_and_separated_by_entity_and_store() -> None:
    key = os.urandom(32)
    first, again = Pseudonymiser(key, "default"), Pseudonymiser(key, "default")
    assert first.one("person", "X1") == again.one("person", "X1")
    assert first.one("person", "X1") != first.one("case", "X1")
    assert first.one("person", "X1") != Pseudonymiser(key, "homestart").one("person", "X1")


def test_unlinkable_across_studies() -> None:
    ids = pa.array([f"P{i:09d}" for i in range(2000)])
    one = Pseudonymiser(os.urandom(32), "default").column("person", ids).to_pylist()
    two = Pseudonymiser(os.urandom(32), "default").column("person", ids).to_pylist()
    assert not set(one) & set(two)
    assert len(set(one)) == len(set(two)) == 2000
