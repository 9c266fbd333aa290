"""Verification on several processes finds exactly what the one-process pass finds.

Both passes are run on the same ledger after every kind of attack in
tests/ledger/attacker.py (seeded), with blocks of 4 entries so that a 40-entry
ledger spans several processes and tree heads fall inside, at the edge of and
across ranges; the reports must be identical (verdict, first bad entry, line,
entries read). A spy on the combining step proves the ranges really ran apart.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from governance.ledger import Ledger, parallel
from governance.ledger.witness import FileWitness
from tests.ledger import attacker
from tests.ledger.scenario import events
from tests.ledger.test_mutation import _build

ROUNDS = 40


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of 4 entries, and a record of how many ranges each parallel pass combined."""
    monkeypatch.setattr(parallel, "BLOCK", 4)
    combined: list[int] = []
    real = parallel._combine

    def spy(results, stops, by_size):  # type: ignore[no-untyped-def]
        combined.append(len(results))
        return real(results, stops, by_size)

    monkeypatch.setattr(parallel, "_combine", spy)
    return combined


def _both(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, **kwargs):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(parallel.PROCESSES_ENV, "1")
    one = ledger.verify(**kwargs)
    monkeypatch.setenv(parallel.PROCESSES_ENV, "3")
    many = ledger.verify(**kwargs)
    return one, many


def _same(one, many) -> None:  # type: ignore[no-untyped-def]
    assert (many.ok, many.first_bad_seq, many.reason, many.entries, many.head_hash, many.unsealed) == \
           (one.ok, one.first_bad_seq, one.reason, one.entries, one.head_hash, one.unsealed)


def test_every_attack_gets_the_same_verdict_on_several_processes(
        db_url: str, tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    expected_key = _build(db_url, keys)
    db = attacker.Database(db_url)
    saved = db.snapshot()
    ledger = Ledger.open(db_url, None, read_only=True, witness=FileWitness(keys / "ledger-witness.jsonl"))
    verdicts = {True: 0, False: 0}
    try:
        one, many = _both(ledger, monkeypatch, expect_key_id=expected_key)
        assert one.ok and many.ok and many.entries == 41
        for round_no in range(ROUNDS):
            db.restore(saved)
            rng = random.Random(4242 + round_no)
            category = rng.choice(attacker.DB_MUTATIONS)(db, rng)
            one, many = _both(ledger, monkeypatch, expect_key_id=expected_key)
            _same(one, many)
            verdicts[one.ok] += 1
            bare_one, bare_many = _both(Ledger.open(db_url, None, read_only=True, witness=None), monkeypatch)
            _same(bare_one, bare_many)
            assert category
    finally:
        ledger.close()
        db.close()
    assert verdicts[False] >= ROUNDS * 0.9  # the attacks are caught (the witness catches the rest)
    assert small_blocks and min(small_blocks) >= 3  # 41 entries in blocks of 4: three ranges each time


def test_a_clean_ledger_and_a_saved_head_verify_the_same_way(
        db_url: str, tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(db_url, tmp_path / "keys", checkpoint_every=7) as ledger:
        ledger.append_many(events(30))
        saved = ledger.checkpoints()[2]  # an auditor's head from an earlier visit, at size 21
        ledger.append_many(events(23))  # 53: the newest entries not yet sealed
        one, many = _both(ledger, monkeypatch, since=saved)
        _same(one, many)
        assert many.ok and many.entries == 53 and many.unsealed == 4 and many.since is not None
        assert many.since == one.since


def test_missing_entries_at_the_edge_of_a_range_are_named_as_in_one_process(
        db_url: str, tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(db_url, tmp_path / "keys", checkpoint_every=5) as ledger:
        ledger.append_many(events(36))
    db = attacker.Database(db_url)
    try:
        db.sql("DELETE FROM ledger_entries WHERE seq IN (12, 13)")  # the last of range one, first of range two
        with Ledger.open(db_url, None, read_only=True, witness=None) as reader:
            one, many = _both(reader, monkeypatch)
    finally:
        db.close()
    _same(one, many)
    assert not many.ok and many.first_bad_seq == 12 and "entry 12 is missing (next entry found is 14)" in many.reason


def test_a_threaded_process_verifies_in_one_process_unless_told() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert parallel.processes_for(5_000_000) == 1
    finally:
        stop.set()
        worker.join()
