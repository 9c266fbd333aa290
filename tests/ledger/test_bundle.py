"""Offline bundles: export, verify without a database, detect tampering with the files."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from governance.errors import LedgerError
from governance.keys import KeyStore
from governance.ledger import GENESIS_HASH, Ledger, canonical, verify_bundle
from governance.ledger.bundle import BUNDLE_FORMAT
from governance.ledger.canonical import checkpoint_payload


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {"actor": "retention-job", "action": "record.destroyed", "rule": "CS-25Y", "store": "default",
         "reason": "période écoulée" if i % 2 else None, "record_ids": [f"case-{i}"],
         "counts": {"records": 1}, "details": {"object_key": f"cases/{i}/a.pdf"}}
        for i in range(1, n + 1)
    ]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeyStore]:
    """One exported bundle (30 entries, checkpoints at 10, 20, 30), copied per test."""
    base = tmp_path_factory.mktemp("bundle-source")
    keys = KeyStore(base / "keys")
    ledger = Ledger.open(f"sqlite:///{base / 'ledger.db'}", keys, checkpoint_every=10)
    ledger.append_many(_events(30))
    ledger.export(base / "bundle")
    ledger.close()
    return base / "bundle", keys


@pytest.fixture
def bundle(source: tuple[Path, KeyStore], tmp_path: Path) -> Path:
    return Path(shutil.copytree(source[0], tmp_path / "bundle"))


def _lines(bundle: Path, name: str = "entries.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bundle / name).read_text("utf-8").splitlines()]


def _write(bundle: Path, entries: list[dict[str, Any]], name: str = "entries.jsonl", *, fix_manifest: bool = True) -> None:
    (bundle / name).write_bytes(b"".join(canonical(e).encode() + b"\n" for e in entries))
    if fix_manifest:
        _fix_manifest(bundle)


def _fix_manifest(bundle: Path, **changes: Any) -> None:
    """What a careful attacker does after editing files: update the listed hashes."""
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["files"] = {name: hashlib.sha256((bundle / name).read_bytes()).hexdigest() for name in manifest["files"]}
    manifest.update(changes)
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))


def _rechain(entries: list[dict[str, Any]], start: int) -> None:
    prev = entries[start - 1]["entry_hash"] if start else GENESIS_HASH
    for entry in entries[start:]:
        body = {k: v for k, v in entry.items() if k not in ("prev_hash", "entry_hash")}
        entry["prev_hash"] = prev
        entry["entry_hash"] = prev = hashlib.sha256(prev.encode() + b"\n" + canonical(body).encode()).hexdigest()


def _fails(bundle: Path, seq: int | None, *phrases: str, **kwargs: Any) -> None:
    report = verify_bundle(bundle, **kwargs)
    assert not report.ok, report
    assert report.first_bad_seq == seq, report
    for phrase in phrases:
        assert phrase in report.reason, report.reason


def test_export_and_verify_roundtrip(db_url: str, tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys")
    ledger = Ledger.open(db_url, keys, checkpoint_every=10)
    ledger.append_many(_events(23))
    assert ledger.verify().unsealed == 3
    report = ledger.export(tmp_path / "out")
    db_report = ledger.verify()
    assert db_report.unsealed == 0  # export sealed the head first
    assert (report.entries, report.checkpoints, report.head_hash) == (23, 3, db_report.head_hash)
    checked = verify_bundle(tmp_path / "out", expect_key_id=keys.key_id())
    assert checked.ok and checked.source == "bundle"
    assert (checked.entries, checked.checkpoints, checked.head_hash) == (23, 3, db_report.head_hash)
    assert checked.fingerprints == {keys.key_id(): keys.fingerprint()}
    manifest = json.loads((tmp_path / "out" / "MANIFEST.json").read_text())
    assert manifest["format"] == BUNDLE_FORMAT and manifest["fingerprints"] == {keys.key_id(): keys.fingerprint()}
    assert set(manifest["files"]) == {"entries.jsonl", "checkpoints.jsonl", "VERIFY.md", f"public-keys/{keys.key_id()}.pem"}
    lines = (tmp_path / "out" / "entries.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 24))
    assert all(canonical(json.loads(line)) == line for line in lines)
    assert json.loads(lines[0]) == next(ledger.entries()).to_dict()
    guide = (tmp_path / "out" / "VERIFY.md").read_text()
    assert keys.fingerprint() in guide and db_report.head_hash in guide
    with pytest.raises(LedgerError, match="not empty"):
        ledger.export(tmp_path / "out")
    ledger.close()


def _auditor_script(bundle: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the Python block from VERIFY.md, as an auditor would."""
    code = re.search(r"```python\n(.*?)```", (bundle / "VERIFY.md").read_text(), re.S).group(1)
    script = tmp_path / "check.py"
    script.write_text(code)
    return subprocess.run([sys.executable, str(script), str(bundle)], capture_output=True, text=True, timeout=60)


def test_the_verify_md_script_agrees(bundle: Path, tmp_path: Path) -> None:
    result = _auditor_script(bundle, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"OK: 30 entries, 3 checkpoints, head {verify_bundle(bundle).head_hash}" in result.stdout
    entries = _lines(bundle)
    entries[12]["actor"] = "forger"
    _write(bundle, entries)
    result = _auditor_script(bundle, tmp_path)
    assert result.returncode != 0 and "entry 13: altered" in result.stderr


def _edit(field: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(entries: list[dict[str, Any]]) -> None:
        entries[12][field] = value
    return change


@pytest.mark.parametrize(
    "change",
    [_edit("actor", "forger"), _edit("record_ids", ["case-99"]), _edit("counts", {"records": 9}),
     _edit("details", {}), _edit("reason", None), _edit("recorded_at", "2001-01-01T00:00:00.000000Z"),
     _edit("prev_hash", "1" * 64), _edit("entry_hash", "2" * 64)],
)
def test_edited_line_is_detected(bundle: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    entries = _lines(bundle)
    change(entries)
    _write(bundle, entries)
    _fails(bundle, 13)


def test_edited_line_with_recomputed_hash_breaks_the_next_link(bundle: Path) -> None:
    entries = _lines(bundle)
    entries[12]["actor"] = "forger"
    body = {k: v for k, v in entries[12].items() if k not in ("prev_hash", "entry_hash")}
    entries[12]["entry_hash"] = hashlib.sha256(entries[12]["prev_hash"].encode() + b"\n" + canonical(body).encode()).hexdigest()
    _write(bundle, entries)
    _fails(bundle, 13, "chain breaks between entries 13 and 14")


def test_rewritten_tail_is_caught_by_a_checkpoint(bundle: Path) -> None:
    entries = _lines(bundle)
    entries[24]["actor"] = "forger"
    _rechain(entries, 24)
    _write(bundle, entries)
    _fails(bundle, 30, "signed checkpoint")


def test_deleted_inserted_and_swapped_lines_are_detected(bundle: Path) -> None:
    original = _lines(bundle)
    _write(bundle, original[:12] + original[13:])
    _fails(bundle, 13, "entry 13 is missing")
    inserted = original[:12] + [dict(original[12], actor="forger")] + original[12:]
    for seq, entry in enumerate(inserted, start=1):
        entry["seq"] = seq
    _rechain(inserted, 12)
    _write(bundle, inserted)
    _fails(bundle, 20, "signed checkpoint")
    swapped = [dict(e) for e in original]
    swapped[11], swapped[16] = swapped[16], swapped[11]
    _write(bundle, swapped)
    _fails(bundle, 12, "entry 12 is missing")
    swapped = [dict(e) for e in original]
    for key in swapped[0]:
        if key != "seq":
            swapped[11][key], swapped[16][key] = swapped[16][key], swapped[11][key]
    _write(bundle, swapped)
    _fails(bundle, 12)


def test_truncated_tail_is_detected(bundle: Path) -> None:
    entries = _lines(bundle)
    _write(bundle, entries[:25])
    _fails(bundle, 26, "entries after seq 25 missing: checkpoint at seq 30")
    # Dropping the checkpoint too leaves a consistent shorter chain; MANIFEST's
    # count (unless also rewritten) and the published head hash still tell.
    checkpoints = _lines(bundle, "checkpoints.jsonl")[:-1]
    _write(bundle, checkpoints, "checkpoints.jsonl")
    _fails(bundle, None, "MANIFEST.json counts or head hash")


def test_tampered_checkpoint_is_detected(bundle: Path) -> None:
    checkpoints = _lines(bundle, "checkpoints.jsonl")
    checkpoints[1]["signature"] = ("0" if checkpoints[1]["signature"][0] != "0" else "1") + checkpoints[1]["signature"][1:]
    _write(bundle, checkpoints, "checkpoints.jsonl")
    _fails(bundle, 20, "checkpoint at seq 20: signature is not valid")
    checkpoints[1]["signature"] = "not hex"
    _write(bundle, checkpoints, "checkpoints.jsonl")
    _fails(bundle, 20, "signature is not valid")


def test_replaced_public_key_is_detected(bundle: Path, source: tuple[Path, KeyStore], tmp_path: Path) -> None:
    keys = source[1]
    attacker = KeyStore(tmp_path / "attacker")
    (bundle / "public-keys" / f"{keys.key_id()}.pem").write_bytes(attacker.public_key_pem())
    _fix_manifest(bundle)
    _fails(bundle, 10, "key replaced")


def test_resigned_bundle_fails_only_against_the_published_key(bundle: Path, source: tuple[Path, KeyStore],
                                                              tmp_path: Path) -> None:
    keys = source[1]
    attacker = KeyStore(tmp_path / "attacker")
    entries = _lines(bundle)
    entries[4]["actor"] = "forger"
    _rechain(entries, 4)
    _write(bundle, entries, fix_manifest=False)
    checkpoints = []
    for cp in _lines(bundle, "checkpoints.jsonl"):
        cp.update(entry_hash=entries[cp["seq"] - 1]["entry_hash"], key_id=attacker.key_id())
        payload = checkpoint_payload(cp["seq"], cp["entry_hash"], cp["signed_at"], cp["key_id"])
        cp["signature"] = attacker.signing_key().sign(payload).hex()
        checkpoints.append(cp)
    _write(bundle, checkpoints, "checkpoints.jsonl", fix_manifest=False)
    (bundle / "public-keys" / f"{keys.key_id()}.pem").unlink()
    (bundle / "public-keys" / f"{attacker.key_id()}.pem").write_bytes(attacker.public_key_pem())
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    listed = [n for n in manifest["files"] if not n.startswith("public-keys/")]
    manifest["files"] = dict.fromkeys(listed + [f"public-keys/{attacker.key_id()}.pem"], "")
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    _fix_manifest(bundle, head_hash=entries[-1]["entry_hash"])
    report = verify_bundle(bundle)
    assert report.ok and report.key_ids == (attacker.key_id(),)  # consistent, but another key
    _fails(bundle, None, "not the expected key", expect_key_id=keys.key_id())
    _fails(bundle, None, "not the expected key", expect_key_id=keys.fingerprint())


def test_manifest_mismatch_and_unlisted_files_are_detected(bundle: Path, tmp_path: Path) -> None:
    (bundle / "VERIFY.md").write_text("all fine, nothing to check\n")
    _fails(bundle, None, "VERIFY.md does not match its sha256 in MANIFEST.json")
    _fix_manifest(bundle)
    assert verify_bundle(bundle).ok
    (bundle / "public-keys" / "0123456789abcdef.pem").write_bytes(KeyStore(tmp_path / "k").public_key_pem())
    _fails(bundle, None, "not listed in MANIFEST.json")


@pytest.mark.parametrize(
    "line",
    ["{not json", '{"seq": 13}', "[]", "{}", "\ufeff"],
)
def test_malformed_lines_are_detected(bundle: Path, line: str) -> None:
    lines = (bundle / "entries.jsonl").read_text("utf-8").splitlines()
    lines[12] = line
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    _fix_manifest(bundle)
    _fails(bundle, 13, "entries.jsonl line 13 is not a canonical ledger entry")


def test_non_canonical_but_equivalent_line_is_detected(bundle: Path) -> None:
    lines = (bundle / "entries.jsonl").read_text("utf-8").splitlines()
    lines[12] = json.dumps(json.loads(lines[12]))  # same data, spaces after separators
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    _fix_manifest(bundle)
    _fails(bundle, 13, "not a canonical ledger entry")
    entries = _lines(bundle)
    entries[12]["counts"] = {"records": 1.0}
    (bundle / "entries.jsonl").write_text("".join(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for e in entries))
    _fix_manifest(bundle)
    _fails(bundle, 13, "not a canonical ledger entry")


def test_missing_pieces(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        verify_bundle(tmp_path / "nowhere")
    (bundle / "entries.jsonl").unlink()
    _fails(bundle, None, "entries.jsonl is missing")
    (bundle / "MANIFEST.json").unlink()
    _fails(bundle, None, "MANIFEST.json is missing")
    (bundle / "MANIFEST.json").write_text("{}")
    _fails(bundle, None, "MANIFEST.json is not a valid manifest")
