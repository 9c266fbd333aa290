"""Offline bundles: export, verify without a database, detect tampering with any file."""

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
from governance.ledger import GENESIS_HASH, Ledger, canonical, verify_bundle
from governance.ledger.bundle import BUNDLE_FORMAT, manifest_payload, render_guide
from governance.ledger.schema import Checkpoint
from governance.ledger.signing import LedgerSigner, fingerprint, load_public_key
from tests.ledger import attacker
from tests.ledger.scenario import events as _events


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LedgerSigner]:
    """One exported bundle (30 entries, tree heads at 10, 20, 30), copied per test."""
    base = tmp_path_factory.mktemp("bundle-source")
    keys = LedgerSigner(base / "keys")
    ledger = Ledger.open(f"sqlite:///{base / 'ledger.db'}", keys, checkpoint_every=10)
    ledger.append_many(_events(30))
    ledger.export(base / "bundle")
    ledger.close()
    return base / "bundle", keys


@pytest.fixture
def bundle(source: tuple[Path, LedgerSigner], tmp_path: Path) -> Path:
    return Path(shutil.copytree(source[0], tmp_path / "bundle"))


def _lines(bundle: Path, name: str = "entries.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bundle / name).read_text("utf-8").splitlines()]


def _write(bundle: Path, entries: list[dict[str, Any]], name: str = "entries.jsonl", *, fix_manifest: bool = True) -> None:
    (bundle / name).write_bytes(b"".join(canonical(e).encode() + b"\n" for e in entries))
    if fix_manifest:
        attacker.fix_manifest(bundle)


def _rechain(entries: list[dict[str, Any]], start: int) -> None:
    prev = entries[start - 1]["entry_hash"] if start else GENESIS_HASH
    for entry in entries[start:]:
        body = {k: v for k, v in entry.items() if k not in ("prev_hash", "entry_hash")}
        entry["prev_hash"] = prev
        entry["entry_hash"] = prev = attacker.entry_hash(prev, canonical(body))


def _fails(bundle: Path, seq: int | None, *phrases: str, **kwargs: Any) -> None:
    report = verify_bundle(bundle, **kwargs)
    assert not report.ok, report
    assert report.first_bad_seq == seq, report
    assert "\n" not in report.reason
    for phrase in phrases:
        assert phrase in report.reason, report.reason


def test_export_and_verify_roundtrip(db_url: str, tmp_path: Path) -> None:
    keys = LedgerSigner(tmp_path / "keys")
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
    assert f"OK: 30 entries, head {verify_bundle(bundle).head_hash}" in result.stdout
    entries = _lines(bundle)
    entries[12]["actor"] = "forger"
    _write(bundle, entries)
    result = _auditor_script(bundle, tmp_path)
    assert result.returncode != 0 and "entry 13: altered" in result.stderr
    _rechain(entries, 12)
    _write(bundle, entries)
    result = _auditor_script(bundle, tmp_path)
    assert result.returncode != 0 and "tree head 20: entries altered" in result.stderr


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


@pytest.mark.parametrize("name", ["entries.jsonl", "checkpoints.jsonl"])
def test_invalid_utf8_is_one_line(bundle: Path, name: str) -> None:
    (bundle / name).write_bytes(b"\xc3\x28\n" + (bundle / name).read_bytes())
    attacker.fix_manifest(bundle)
    report = verify_bundle(bundle)
    assert not report.ok and "\n" not in report.reason and name in report.reason


def test_manifest_fields_and_verify_md_are_checked(bundle: Path, source: tuple[Path, LedgerSigner]) -> None:
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    for field, value in [("fingerprints", {source[1].key_id(): "f" * 64}), ("key_ids", []), ("exported_at", "today"),
                         ("format", "governance-ledger-bundle/1"), ("entries", 31), ("signed_by", "0" * 16)]:
        (bundle / "MANIFEST.json").write_text(json.dumps({**manifest, field: value}))
        report = verify_bundle(bundle)
        assert not report.ok and "MANIFEST.json" in report.reason, (field, report)
    (bundle / "MANIFEST.json").write_text(json.dumps({**manifest, "signature": None, "signed_by": None}))
    assert verify_bundle(bundle).ok  # an unsigned export is consistent...
    _fails(bundle, None, "not signed", expect_key_id=source[1].key_id())  # ...but not trusted by an auditor
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    guide = (bundle / "VERIFY.md").read_text()
    (bundle / "VERIFY.md").write_text(guide.replace(source[1].fingerprint(), "a" * 64))
    attacker.fix_manifest(bundle)
    _fails(bundle, None, "MANIFEST.json signature is not valid")  # the signature covers the hashes
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    (bundle / "MANIFEST.json").write_text(json.dumps({**manifest, "signature": None, "signed_by": None}))
    _fails(bundle, None, "VERIFY.md is not the guide for this bundle")  # and unsigned, the text itself is checked


def test_edited_line_with_recomputed_hash_breaks_the_next_link(bundle: Path) -> None:
    entries = _lines(bundle)
    entries[12]["actor"] = "forger"
    body = {k: v for k, v in entries[12].items() if k not in ("prev_hash", "entry_hash")}
    entries[12]["entry_hash"] = attacker.entry_hash(entries[12]["prev_hash"], canonical(body))
    _write(bundle, entries)
    _fails(bundle, 14, "entry 14 does not link to entry 13")


def test_rewritten_tail_is_caught_by_a_tree_head(bundle: Path) -> None:
    entries = _lines(bundle)
    entries[24]["actor"] = "forger"
    _rechain(entries, 24)
    _write(bundle, entries)
    _fails(bundle, 21, "entries 21-30 do not match the tree head signed at size 30")


def test_deleted_and_swapped_lines_are_detected(bundle: Path) -> None:
    original = _lines(bundle)
    _write(bundle, original[:12] + original[13:])
    _fails(bundle, 13, "entries.jsonl line 13 holds entry 14")
    swapped = [dict(e) for e in original]
    swapped[11], swapped[16] = swapped[16], swapped[11]
    _write(bundle, swapped)
    _fails(bundle, 12, "line 12 holds entry 17")


def test_truncation_with_its_tree_heads_is_caught_by_the_signed_manifest(bundle: Path, source) -> None:
    _write(bundle, _lines(bundle)[:20])
    _write(bundle, _lines(bundle, "checkpoints.jsonl")[:-1], "checkpoints.jsonl")
    _fails(bundle, None, "MANIFEST.json entries does not match")
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    heads = _lines(bundle, "checkpoints.jsonl")
    manifest.update(entries=20, checkpoints=2, tree_size=20, root=heads[-1]["root"], head_hash=heads[-1]["head"])
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    attacker.fix_manifest(bundle)
    _fails(bundle, None, "MANIFEST.json signature is not valid", expect_key_id=source[1].key_id())


def test_tampered_tree_head_is_detected(bundle: Path) -> None:
    heads = _lines(bundle, "checkpoints.jsonl")
    heads[1]["signature"] = ("0" if heads[1]["signature"][0] != "0" else "1") + heads[1]["signature"][1:]
    _write(bundle, heads, "checkpoints.jsonl")
    _fails(bundle, None, "tree head at size 20: signature is not valid")


def test_replaced_public_key_is_detected(bundle: Path, source: tuple[Path, LedgerSigner]) -> None:
    (bundle / "public-keys" / f"{source[1].key_id()}.pem").write_text(attacker.other_key_pem()[1])
    attacker.fix_manifest(bundle)
    _fails(bundle, None, "key replaced")


def test_resigned_bundle_fails_only_against_the_published_key(bundle: Path, source: tuple[Path, LedgerSigner]) -> None:
    keys = source[1]
    key, pem, key_id = attacker.other_key_pem()
    entries = _lines(bundle)
    entries[4]["actor"] = "forger"
    _rechain(entries, 4)
    _write(bundle, entries, fix_manifest=False)
    rows = [[e["seq"], None, e["entry_hash"]] for e in entries]
    heads, prev = [], GENESIS_HASH
    for size in (10, 20, 30):
        heads.append(attacker.forge_head(key, key_id, rows, size, prev, [key_id]))
        prev = hashlib.sha256(canonical(heads[-1]).encode()).hexdigest()
    _write(bundle, heads, "checkpoints.jsonl", fix_manifest=False)
    (bundle / "public-keys" / f"{keys.key_id()}.pem").unlink()
    (bundle / "public-keys" / f"{key_id}.pem").write_text(pem)
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["files"] = {n: "" for n in manifest["files"] if not n.startswith("public-keys/")}
    manifest["files"][f"public-keys/{key_id}.pem"] = ""
    prints = {key_id: fingerprint(load_public_key(pem.encode(), key_id))}
    (bundle / "VERIFY.md").write_text(render_guide(30, [Checkpoint.from_signed(h) for h in heads],
                                                   entries[-1]["entry_hash"], prints))
    manifest.update(key_ids=[key_id], fingerprints=prints, head_hash=entries[-1]["entry_hash"],
                    root=heads[-1]["root"], signed_by=key_id)
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    attacker.fix_manifest(bundle)
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["signature"] = key.sign(manifest_payload(manifest)).hex()
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    report = verify_bundle(bundle)
    assert report.ok and report.key_ids == (key_id,), report  # consistent, but another key
    _fails(bundle, None, "not the expected key", expect_key_id=keys.key_id())
    _fails(bundle, None, "not the expected key", expect_key_id=keys.fingerprint())


def test_manifest_mismatch_and_unlisted_files_are_detected(bundle: Path, tmp_path: Path) -> None:
    (bundle / "VERIFY.md").write_text("all fine, nothing to check\n")
    _fails(bundle, None, "VERIFY.md does not match its sha256 in MANIFEST.json")
    attacker.fix_manifest(bundle)
    _fails(bundle, None, "MANIFEST.json signature is not valid")
    (bundle / "public-keys" / "0123456789abcdef.pem").write_text(attacker.other_key_pem()[1])
    _fails(bundle, None, "not listed in MANIFEST.json")
    (bundle / "public-keys" / "0123456789abcdef.pem").unlink()
    (bundle / "notes.txt").write_text("x")
    _fails(bundle, None, "notes.txt is not listed")


@pytest.mark.parametrize(
    "line",
    ["{not json", '{"seq": 13}', "[]", "{}", "\ufeff"],
)
def test_malformed_lines_are_detected(bundle: Path, line: str) -> None:
    lines = (bundle / "entries.jsonl").read_text("utf-8").splitlines()
    lines[12] = line
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    attacker.fix_manifest(bundle)
    _fails(bundle, 13, "entries.jsonl line 13 is not a canonical ledger entry")


def test_non_canonical_but_equivalent_line_is_detected(bundle: Path) -> None:
    lines = (bundle / "entries.jsonl").read_text("utf-8").splitlines()
    lines[12] = json.dumps(json.loads(lines[12]))  # same data, spaces after separators
    (bundle / "entries.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    attacker.fix_manifest(bundle)
    _fails(bundle, 13, "not a canonical ledger entry")
    entries = _lines(bundle)
    entries[12]["counts"] = {"records": 1.0}
    (bundle / "entries.jsonl").write_text("".join(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for e in entries))
    attacker.fix_manifest(bundle)
    _fails(bundle, 13, "not a canonical ledger entry")


def test_missing_pieces(bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        verify_bundle(tmp_path / "nowhere")
    (bundle / "entries.jsonl").unlink()
    _fails(bundle, None, "entries.jsonl listed in MANIFEST.json is missing")
    (bundle / "MANIFEST.json").unlink()
    _fails(bundle, None, "MANIFEST.json is missing")
    (bundle / "MANIFEST.json").write_text("{}")
    _fails(bundle, None, "MANIFEST.json is not a valid manifest")
