"""The attacks of issue 13, one by one: sealing, keys, witness, read-only and saved heads.

Each test plays what someone with write access to the ledger database does and
checks the ledger refuses (one line, naming the first bad entry) or verify
reports it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from governance.errors import GovernanceError, KeyMaterialError, LedgerError, LedgerIntegrityError
from governance.ledger import Checkpoint, Ledger
from governance.ledger.signing import LedgerSigner
from tests.ledger import attacker
from tests.ledger.scenario import events


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def ledger(db_url: str, keys: Path) -> Iterator[Ledger]:
    opened = Ledger.open(db_url, keys, checkpoint_every=10)
    opened.append_many(events(20))
    yield opened
    opened.close()


@pytest.fixture
def db(db_url: str) -> Iterator[attacker.Database]:
    database = attacker.Database(db_url)
    yield database
    database.close()


def _forge_two_entries(db: attacker.Database) -> None:
    rows = db.entries()
    for k in (4, 12):
        data = json.loads(rows[k][1])
        data["record_ids"] = ["case-9999"]
        rows[k][1] = attacker.canonical(data)
    attacker.rehash(rows)
    db.write_entries(rows)


def test_the_issues_first_attack_is_refused_and_reported(ledger: Ledger, db: attacker.Database, tmp_path: Path) -> None:
    """Delete tree heads and keys, edit two entries, recompute hashes forward, then seal or export."""
    key = LedgerSigner(ledger.signer.keys_dir).fingerprint()  # type: ignore[union-attr]
    db.sql("DELETE FROM ledger_checkpoints")
    db.sql("DELETE FROM ledger_keys")
    _forge_two_entries(db)
    with pytest.raises(LedgerIntegrityError, match="20 entries but no registered signing key"):
        ledger.checkpoint()
    with pytest.raises(LedgerIntegrityError):
        ledger.export(tmp_path / "bundle")
    report = ledger.verify(expect_key_id=key)
    assert not report.ok and "holds a tree head at size 20" in report.reason and "deleted" in report.reason
    bare = Ledger.open(str(ledger.engine.url.render_as_string(hide_password=False)), None, read_only=True, witness=None)
    assert not bare.verify(expect_key_id=key).ok  # no tree head signed by the published key
    bare.close()


def test_a_broken_tail_is_never_sealed(ledger: Ledger, db: attacker.Database) -> None:
    ledger.append_many(events(5))  # 21-25, unsealed
    rows = db.entries()
    data = json.loads(rows[22][1])
    data["actor"] = "forger"
    rows[22][1] = attacker.canonical(data)
    db.write_entries(rows)
    with pytest.raises(LedgerIntegrityError) as refused:
        ledger.checkpoint()
    assert str(refused.value) == "not sealing: entry 23 does not match its hash (altered)"
    assert refused.value.entry_seq == 23
    with pytest.raises(LedgerIntegrityError, match="entry 23"):
        ledger.append_many(events(5))  # reaches 30: the auto-seal refuses too, and nothing is written
    assert ledger.head().seq == 25


def test_dropping_the_newest_head_and_rewriting_after_it(ledger: Ledger, db: attacker.Database) -> None:
    """The issue's third attack: only the witness can tell; with it, sealing refuses."""
    db.sql("DELETE FROM ledger_checkpoints WHERE size = 20")
    rows = db.entries()
    data = json.loads(rows[15][1])
    data["counts"] = {"cases": 0}
    rows[15][1] = attacker.canonical(data)
    attacker.rehash(rows, 15)
    db.write_entries(rows)
    with pytest.raises(LedgerIntegrityError, match="witness .* holds a tree head at size 20 but the newest in the ledger is at size 10"):
        ledger.checkpoint()
    report = ledger.verify()
    assert not report.ok and report.first_bad_seq == 11 and "entries and tree heads deleted" in report.reason


def test_signing_keys_are_never_minted_for_an_existing_ledger(ledger: Ledger, keys: Path, tmp_path: Path,
                                                             db_url: str) -> None:
    (keys / "ledger-signing.pem").rename(tmp_path / "backup.pem")
    with pytest.raises(KeyMaterialError, match="is missing: restore that file from your key backup"):
        ledger.append(actor="job", action="note")
    assert not (keys / "ledger-signing.pem").exists()
    other = Ledger.open(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other-keys")
    other.append(actor="job", action="note")
    other.close()
    shutil.copy(tmp_path / "other-keys" / "ledger-signing.pem", keys / "ledger-signing.pem")
    fresh = Ledger.open(db_url, keys, checkpoint_every=10)
    with pytest.raises(KeyMaterialError, match="not this ledger's key .* a foreign key is never used"):
        fresh.append(actor="job", action="note")
    shutil.copy(tmp_path / "backup.pem", keys / "ledger-signing.pem")
    fresh.close()
    restored = Ledger.open(db_url, keys, checkpoint_every=10)
    assert restored.append(actor="job", action="note").seq == 21
    assert restored.verify().ok
    restored.close()


def test_keys_init_and_a_rotated_out_key(db_url: str, keys: Path, tmp_path: Path) -> None:
    signer = LedgerSigner(keys)
    ledger = Ledger.open(db_url, signer, checkpoint_every=10)
    first = ledger.init_key()
    assert first == signer.key_id() and ledger.init_key() == first  # idempotent
    ledger.append_many(events(3))
    old_file = keys / "old.pem"
    shutil.copy(signer.path, old_file)
    ledger.rotate_key(actor="dpo", reason="annual")
    ledger.append(actor="job", action="note")
    shutil.copy(old_file, signer.path)
    again = Ledger.open(db_url, LedgerSigner(keys), checkpoint_every=10)
    with pytest.raises(KeyMaterialError, match="rotated out"):
        again.append(actor="job", action="note")
    again.close()
    ledger.close()


def test_a_wiped_ledger_with_a_witness_refuses_to_restart(ledger: Ledger, db: attacker.Database) -> None:
    for table in attacker.TABLES:
        db.sql(f"DELETE FROM {table}")
    with pytest.raises(LedgerIntegrityError, match="is empty but witness"):
        ledger.append(actor="job", action="note")
    report = ledger.verify()
    assert not report.ok and "witness" in report.reason


def test_witness_divergence_is_named(ledger: Ledger, keys: Path) -> None:
    witness = keys / "ledger-witness.jsonl"
    lines = witness.read_text().splitlines()
    head = json.loads(lines[0])
    head["signed_at"] = "2001-01-01T00:00:00.000000Z"
    witness.write_text("\n".join([attacker.canonical(head)] + lines[1:]) + "\n")
    report = ledger.verify()
    assert not report.ok and "tree head at size 10 differs from the one witness" in report.reason
    witness.write_text("{not a head\n")
    report = ledger.verify()
    assert not report.ok and "is not a signed tree head" in report.reason


def test_since_a_saved_head(ledger: Ledger, db: attacker.Database) -> None:
    saved = ledger.checkpoints()[0]  # what an auditor kept on their last visit (size 10)
    ledger.append_many(events(7))
    report = ledger.verify(since=saved)
    assert report.ok and report.since["from_size"] == 10 and report.since["to_size"] == 20
    ledger.checkpoint()
    report = ledger.verify(since=saved)
    assert report.ok and report.since["to_size"] == 27 and report.since["consistency_proof"]
    forged = Checkpoint(saved.size, "0" * 64, saved.head, saved.prev, saved.keys, saved.signed_at, saved.key_id,
                        saved.signature)
    assert "not signed by a key of this ledger" in ledger.verify(since=forged).reason
    # Everything rewritten and re-sealed with the ledger's own key (a thief with the key): the saved head disagrees.
    db.sql("DELETE FROM ledger_checkpoints")
    db.sql("DELETE FROM ledger_nodes")
    rows = db.entries()
    rows[1][1] = rows[1][1].replace("retention-job", "forger")
    attacker.rehash(rows)
    db.write_entries(rows)
    witness = Path(ledger.witness.location)  # type: ignore[union-attr]
    witness.unlink()
    ledger.checkpoint()
    assert ledger.verify().ok  # consistent, same key, no witness history left...
    assert not ledger.verify(since=saved).ok  # ...but not the ledger the auditor saw


def test_verify_works_on_a_read_only_copy(ledger: Ledger, tmp_path: Path, db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        ro = Ledger.open(db_url, None, read_only=True, witness=None)
        with pytest.raises(LedgerError, match="without keys"):
            ro.append(actor="a", action="b")
        assert ro.verify().ok
        ro.close()
        return
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ledger-ro-"))  # under /tmp, which another user can traverse
    import sqlite3

    with sqlite3.connect(ledger.engine.url.database) as live, sqlite3.connect(folder / "ledger.db") as copy:
        live.backup(copy)  # a consistent copy, as an auditor is handed (the WAL folded in)
    copy.close()
    os.chmod(folder / "ledger.db", 0o444)
    os.chmod(folder, 0o555)
    command = [sys.executable, "-m", "governance.cli", "audit", "verify", "--witness", "none"]
    env = {**os.environ, "GOVERNANCE_LEDGER_URL": f"sqlite:///{folder / 'ledger.db'}",
           "GOVERNANCE_HOME": str(folder), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if os.geteuid() == 0:  # root ignores file modes: verify as an ordinary user, as an auditor would
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot verify as another user")
        command = ["runuser", "-u", "nobody", "--"] + command
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd="/")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ledger OK: 20 entries, 2 checkpoints")
        assert sorted(p.name for p in folder.iterdir()) == ["ledger.db"]  # nothing written beside it
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def test_receipt_verifies_offline_after_the_database_is_deleted(ledger: Ledger, db_url: str, tmp_path: Path) -> None:
    from governance.ledger.receipt import destruction_entries, receipt_for, verify_receipt

    seqs = destruction_entries(ledger, "EH-2019-0412-001")
    assert seqs == [2]  # the destruction entry, not the intent before it
    ledger.append_many(events(3))  # 21-23: the receipt seals them first
    receipt = receipt_for(ledger, seqs + [23])
    assert receipt["tree_head"]["size"] == 23
    key = LedgerSigner(ledger.signer.keys_dir).fingerprint()  # type: ignore[union-attr]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    ledger.close()
    if db_url.startswith("sqlite"):
        Path(make_path(db_url)).unlink()
    report = verify_receipt(json.loads(path.read_text()), key)
    assert report.ok and report.seqs == (2, 23), report
    assert "receipt OK: entries 2, 23" in report.summary()
    bad = json.loads(path.read_text())
    bad["entries"][0]["body"] = bad["entries"][0]["body"].replace("EH-2019-0412-001", "EH-2019-0412-999")
    assert "is not included in the signed tree" in verify_receipt(bad, key).reason
    bad = json.loads(path.read_text())
    bad["entries"][0]["inclusion_proof"][0] = "0" * 64
    assert not verify_receipt(bad, key).ok
    bad = json.loads(path.read_text())
    bad["tree_head"]["size"] = 24
    assert "signature is not valid" in verify_receipt(bad, key).reason
    assert "not the expected key" in verify_receipt(json.loads(path.read_text()), "f" * 16).reason
    assert not verify_receipt({"format": "x"}).ok


def make_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def test_s3_witness_under_object_lock(moto_server: str, sqlite_url: str, tmp_path: Path) -> None:
    """Production: one object per tree head in an Object Lock bucket, COMPLIANCE mode (moto over HTTP)."""
    import boto3

    from governance.storage.s3 import S3ObjectStore
    from governance.ledger.witness import S3Witness

    db_url = sqlite_url  # the witness does not depend on the database: once is enough
    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    client.create_bucket(Bucket="ig-objects", ObjectLockEnabledForBucket=True,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    witness = S3Witness(S3ObjectStore("ig-objects", "ledger/tree-heads", endpoint_url=moto_server))
    ledger = Ledger.open(db_url, tmp_path / "keys", checkpoint_every=5, witness=witness)
    ledger.append_many(events(12))
    ledger.checkpoint()
    listed = client.list_objects_v2(Bucket="ig-objects", Prefix="ledger/tree-heads/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == [f"{s:020d}.json" for s in (5, 10, 12)]
    head = client.head_object(Bucket="ig-objects", Key=listed[0]["Key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(Exception):
        client.delete_object(Bucket="ig-objects", Key=listed[0]["Key"],
                             VersionId=client.head_object(Bucket="ig-objects", Key=listed[0]["Key"])["VersionId"])
    assert ledger.verify().witnessed == 3
    db = attacker.Database(db_url)
    db.sql("DELETE FROM ledger_entries WHERE seq > 10")
    db.sql("DELETE FROM ledger_checkpoints WHERE size > 10")
    db.close()
    report = ledger.verify()
    assert not report.ok and "holds a tree head at size 12" in report.reason
    with pytest.raises(GovernanceError, match="not sealing"):
        ledger.append_many(events(5))
    ledger.close()


def test_proofs_from_the_database_match_the_rfc_text(db_url: str, tmp_path: Path) -> None:
    """Inclusion and consistency proofs built from entry hashes and the node cache equal the RFC's PATH/PROOF
    computed independently over the leaves (prev_hash + newline + body) of a 300-entry ledger."""
    from governance.ledger.proofs import TreeReader
    from tests.ledger.test_merkle import rfc_mth, rfc_path, rfc_subproof

    with Ledger.open(db_url, tmp_path / "keys", checkpoint_every=64) as ledger:
        ledger.append_many(events(300))
        ledger.checkpoint()
        leaves = [f"{e.prev_hash}\n{attacker.canonical(e.body())}".encode() for e in ledger.entries()]
        heads = ledger.checkpoints()
        with ledger.snapshot() as conn:
            for head in heads:
                assert bytes.fromhex(head.root) == rfc_mth(leaves[:head.size])
            newest = heads[-1]
            for index in (0, 31, 32, 63, 64, 200, 255, 256, 299):
                assert TreeReader(conn).inclusion(index, newest.size, bytes.fromhex(newest.root)) == \
                    rfc_path(index, leaves[:newest.size])
            for old in heads[:-1]:
                assert TreeReader(conn).consistency(old.size, bytes.fromhex(old.root), newest.size,
                                                    bytes.fromhex(newest.root)) == \
                    rfc_subproof(old.size, leaves[:newest.size], True)
