"""Random mutations of the live database and of exported bundles: every one detected, in one line.

Each round restores a sealed ledger (40 entries, a key rotation at entry 20,
tree heads every 8 entries and at the head, every head witnessed), applies one
attack from tests/ledger/attacker.py with a seeded RNG, then sometimes asks the
ledger to seal or export on top of it, as the next job would. With the witness
and ``--expect-key-id`` every mutation must be refused or reported, with one
line. Without a witness, the ones that go unseen must be exactly the categories
docs/ledger.md lists as undetectable.

CI runs ``LEDGER_MUTATIONS`` rounds (default 120) per database and for bundles,
seeded; run 1,000 by hand::

    LEDGER_MUTATIONS=1000 .venv/bin/python -m pytest -q tests/ledger/test_mutation.py
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from governance.errors import GovernanceError
from governance.ledger import Ledger, verify_bundle
from governance.ledger.signing import LedgerSigner
from governance.ledger.witness import FileWitness
from tests.ledger import attacker
from tests.ledger.scenario import events

ROUNDS = int(os.environ.get("LEDGER_MUTATIONS", "120"))
SEED = int(os.environ.get("LEDGER_MUTATION_SEED", "20261206"))


def _build(url: str, keys: Path) -> str:
    """A sealed, witnessed ledger with two signing keys; returns the current key's fingerprint."""
    with Ledger.open(url, keys, checkpoint_every=8) as ledger:
        ledger.append_many(events(20))
        ledger.rotate_key(actor="dpo", reason="annual rotation")
        ledger.append_many(events(19))
        ledger.checkpoint()
        assert ledger.verify().ok
    return LedgerSigner(keys).fingerprint()


def _one_line(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text, text


def test_database_mutations_are_all_detected(db_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    expected_key = _build(db_url, keys)
    witness_path = keys / "ledger-witness.jsonl"
    witness_bytes = witness_path.read_bytes()
    db = attacker.Database(db_url)
    saved = db.snapshot()
    ledger = Ledger.open(db_url, keys, checkpoint_every=8, witness=FileWitness(witness_path))
    bare = Ledger.open(db_url, None, read_only=True, witness=None)
    unseen_without_witness: set[str] = set()
    seen: set[str] = set()
    try:
        for round_no in range(ROUNDS):
            db.restore(saved)
            witness_path.write_bytes(witness_bytes)
            ledger._checked_key = None  # a fresh job: the key rule is checked again
            rng = random.Random(SEED + round_no)
            category = rng.choice(attacker.DB_MUTATIONS)(db, rng)
            seen.add(category)

            without = bare.verify(expect_key_id=expected_key)
            if without.ok:
                unseen_without_witness.add(category)

            then = rng.choice([None, "checkpoint", "export"])
            refused = None
            try:
                if then == "checkpoint":
                    ledger.checkpoint()
                elif then == "export":
                    target = tmp_path / f"export-{round_no}"
                    ledger.export(target)
                    report = verify_bundle(target, expected_key, witness=ledger.witness)
                    assert not report.ok, f"round {round_no}: {category} then export passed: {report}"
                    _one_line(report.reason)
            except GovernanceError as error:
                refused = str(error)
                _one_line(refused)
            report = ledger.verify(expect_key_id=expected_key)
            assert refused is not None or not report.ok, f"round {round_no}: {category} then {then} undetected"
            if not report.ok:
                _one_line(report.reason)
    finally:
        ledger.close()
        bare.close()
        db.close()
    assert unseen_without_witness <= attacker.UNDETECTABLE_WITHOUT_WITNESS, unseen_without_witness
    if ROUNDS >= 100:
        assert len(seen) >= 12, seen  # the seeded rounds reach (nearly) every kind of attack


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, FileWitness]:
    base = tmp_path_factory.mktemp("mutation-bundle")
    expected_key = _build(f"sqlite:///{base / 'ledger.db'}", base / "keys")
    with Ledger.open(f"sqlite:///{base / 'ledger.db'}", base / "keys") as ledger:
        report = ledger.export(base / "bundle")
        assert report.signed
    return base / "bundle", expected_key, FileWitness(base / "keys" / "ledger-witness.jsonl")


def test_bundle_mutations_are_all_detected(exported: tuple[Path, str, FileWitness], tmp_path: Path) -> None:
    source, expected_key, witness = exported
    assert verify_bundle(source, expected_key, witness=witness).ok
    for round_no in range(ROUNDS):
        rng = random.Random(SEED + 7919 * round_no)
        bundle = Path(shutil.copytree(source, tmp_path / f"b{round_no}"))
        category = rng.choice(attacker.BUNDLE_MUTATIONS)(bundle, rng)
        if rng.random() < 0.8:
            attacker.fix_manifest(bundle)
        for kwargs in ({"witness": witness}, {}):
            report = verify_bundle(bundle, expected_key, **kwargs)
            assert not report.ok, f"round {round_no}: {category} undetected ({kwargs})"
            _one_line(report.reason)
        shutil.rmtree(bundle)
