"""Offline bundles: export the ledger to files an auditor verifies without our database.

A bundle is a folder::

    entries.jsonl              one canonical entry per line, prev_hash and entry_hash included
    checkpoints.jsonl          one canonical checkpoint per line (seq, entry_hash, signed_at, key_id, signature)
    public-keys/<key_id>.pem   every public key a checkpoint names
    VERIFY.md                  how to check it, by hand or with a 40-line script
    MANIFEST.json              counts, head hash, key fingerprints, sha256 of every other file

:func:`verify_bundle` reads it through the same :func:`~governance.ledger.verify.verify_rows`
the database check uses, then checks MANIFEST. Lines must be byte-for-byte
canonical, so any other JSON parser an auditor uses sees exactly what we hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from governance.errors import GovernanceError, LedgerError, LedgerIntegrityError
from governance.keys import fingerprint, load_public_key
from governance.ledger.canonical import CHECKPOINT_FIELDS, ENTRY_FIELDS, canonical, canonical_unchecked, entry_text
from governance.ledger.schema import Checkpoint, utc_stamp
from governance.ledger.verify import VerifyReport, verify_rows

if TYPE_CHECKING:
    from governance.ledger.ledger import Ledger

__all__ = ["ExportReport", "export_bundle", "verify_bundle", "BUNDLE_FORMAT", "VERIFY_GUIDE"]

BUNDLE_FORMAT = "governance-ledger-bundle/1"
_LISTED = re.compile(r"^(entries\.jsonl|checkpoints\.jsonl|VERIFY\.md|public-keys/[0-9a-f]{16}\.pem)$")
_ENTRY_KEYS = frozenset(ENTRY_FIELDS)
_CHECKPOINT_KEYS = frozenset(CHECKPOINT_FIELDS + ("signature",))


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    directory: str
    entries: int
    checkpoints: int
    head_seq: int
    head_hash: str | None
    key_ids: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["key_ids"] = list(self.key_ids)
        return data


class _HashingWriter:
    """A binary file that hashes what it writes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "xb")  # never overwrite: export folders start empty
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.sha256.update(data)

    def close(self) -> str:
        self._file.close()
        return self.sha256.hexdigest()


def _write_file(path: Path, data: bytes) -> str:
    writer = _HashingWriter(path)
    writer.write(data)
    return writer.close()


def export_bundle(ledger: "Ledger", directory: Path) -> ExportReport:
    """Write the ledger, as one consistent snapshot, into an empty or new folder."""
    started = time.monotonic()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise LedgerError(f"export folder {directory} is not empty")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LedgerError(f"cannot create export folder {directory} ({type(exc).__name__})") from None
    files: dict[str, str] = {}
    count, head_hash = 0, None
    with ledger.snapshot() as conn:
        checkpoints = ledger.checkpoints(conn)
        keys = ledger.public_keys(conn)
        writer = _HashingWriter(directory / "entries.jsonl")
        try:
            for row in ledger.rows(conn):
                writer.write(entry_text(row).encode("utf-8") + b"\n")
                count, head_hash = row[0], row[12]
        finally:
            files["entries.jsonl"] = writer.close()
    files["checkpoints.jsonl"] = _write_file(
        directory / "checkpoints.jsonl", b"".join(canonical(cp.to_dict()).encode("utf-8") + b"\n" for cp in checkpoints)
    )
    used = sorted({cp.key_id for cp in checkpoints} | set(keys))
    prints = {key_id: fingerprint(load_public_key(keys[key_id], key_id)) for key_id in used if key_id in keys}
    for key_id in used:
        if key_id in keys:
            files[f"public-keys/{key_id}.pem"] = _write_file(directory / "public-keys" / f"{key_id}.pem", keys[key_id])
    newest = checkpoints[-1].key_id if checkpoints else "(none)"
    guide = VERIFY_GUIDE
    for name, value in {"ENTRIES": str(count), "CHECKPOINTS": str(len(checkpoints)), "HEAD_HASH": head_hash or "-",
                        "NEWEST_KEY_ID": newest, "FINGERPRINT": prints.get(newest, "-")}.items():
        guide = guide.replace("{" + name + "}", value)
    files["VERIFY.md"] = _write_file(directory / "VERIFY.md", guide.encode("utf-8"))
    manifest = {
        "format": BUNDLE_FORMAT, "exported_at": utc_stamp(), "entries": count, "checkpoints": len(checkpoints),
        "head_seq": count, "head_hash": head_hash, "key_ids": used, "fingerprints": prints,
        "files": dict(sorted(files.items())),
    }
    # Written last: a folder without MANIFEST.json is an export that did not finish.
    _write_file(directory / "MANIFEST.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return ExportReport(str(directory), count, len(checkpoints), count, head_hash, tuple(used), files,
                        round(time.monotonic() - started, 3))


# -- verification ------------------------------------------------------------------


def _failed(reason: str, seq: int | None = None, report: VerifyReport | None = None) -> VerifyReport:
    if report is not None:
        return replace(report, ok=False, head_hash=None, first_bad_seq=seq, reason=reason, unsealed=0)
    return VerifyReport(ok=False, entries=0, checkpoints=0, head_hash=None, first_bad_seq=seq,
                        reason=reason, source="bundle")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _no_float(text: str) -> Any:
    raise ValueError("floats are outside the canonical value space")


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError("integer outside the signed 64-bit range")
    return value


# The parser itself refuses what canonical() would (floats, NaN, big ints), so
# the nested values can be re-encoded without a second walk over them.
_load_line = json.JSONDecoder(parse_float=_no_float, parse_int=_int64, parse_constant=_no_float).decode


def _entry_rows(path: Path) -> Iterator[tuple[Any, ...]]:
    """Bundle lines as verifier rows; a line that is not a canonical entry is tampering.

    Each line must be byte-for-byte the canonical encoding of what it parses
    to, so any other JSON parser an auditor uses sees exactly what was hashed.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").removesuffix("\n")
                entry = _load_line(line)
                if type(entry) is not dict or entry.keys() != _ENTRY_KEYS:
                    raise ValueError("not an entry")
                record_ids, counts, details = entry["record_ids"], entry["counts"], entry["details"]
                if type(record_ids) is not list or type(counts) is not dict or type(details) is not dict:
                    raise ValueError("not an entry")
                row = (
                    entry["seq"], entry["entry_id"], entry["recorded_at"], entry["actor"], entry["action"],
                    entry["reason"], entry["rule"], entry["store"], canonical_unchecked(record_ids),
                    canonical_unchecked(counts), canonical_unchecked(details), entry["prev_hash"], entry["entry_hash"],
                )
                if entry_text(row) != line:
                    raise ValueError("not canonical")
            except (ValueError, TypeError, RecursionError, GovernanceError):
                raise LedgerIntegrityError(
                    f"entries.jsonl line {number} is not a canonical ledger entry", number) from None
            yield row


def _read_checkpoints(path: Path) -> list[Checkpoint]:
    checkpoints = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        try:
            data = json.loads(line)
            if type(data) is not dict or data.keys() != _CHECKPOINT_KEYS or canonical(data) != line:
                raise ValueError
        except (ValueError, GovernanceError):
            raise LedgerIntegrityError(f"checkpoints.jsonl line {number} is not a canonical checkpoint") from None
        checkpoints.append(Checkpoint(**data))
    return checkpoints


def verify_bundle(directory: Path, expect_key_id: str | None = None, *,
                  progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Verify an exported bundle with no database; the report's ``source`` is "bundle"."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LedgerError(f"bundle folder {directory} does not exist")
    try:
        manifest = json.loads((directory / "MANIFEST.json").read_text("utf-8"))
        files = dict(manifest["files"])
    except FileNotFoundError:
        return _failed("MANIFEST.json is missing (incomplete or altered bundle)")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _failed("MANIFEST.json is not a valid manifest")
    for required in ("entries.jsonl", "checkpoints.jsonl"):
        if required not in files or not (directory / required).is_file():
            return _failed(f"{required} is missing from the bundle")
    keys_dir = directory / "public-keys"
    present = {f"public-keys/{p.name}" for p in keys_dir.iterdir()} if keys_dir.is_dir() else set()
    unlisted = sorted(present - set(files))
    if unlisted:
        return _failed(f"{unlisted[0]} is not listed in MANIFEST.json (file added)")
    if any(not _LISTED.match(name) for name in files):
        return _failed("MANIFEST.json lists an unexpected file name")
    try:
        public_keys = {Path(name).stem: (directory / name).read_bytes() for name in files if name.startswith("public-keys/")}
        checkpoints = _read_checkpoints(directory / "checkpoints.jsonl")
    except FileNotFoundError as exc:
        return _failed(f"{Path(str(exc.filename)).name} listed in MANIFEST.json is missing")
    except LedgerIntegrityError as error:
        return _failed(str(error))
    report = verify_rows(_entry_rows(directory / "entries.jsonl"), checkpoints, public_keys,
                         expect_key_id=expect_key_id, progress=progress, source="bundle")
    if not report.ok:
        return report
    for name, expected in sorted(files.items()):
        path = directory / name
        if not path.is_file():
            return _failed(f"{name} listed in MANIFEST.json is missing", report=report)
        if _sha256_file(path) != expected:
            return _failed(f"{name} does not match its sha256 in MANIFEST.json", report=report)
    if (manifest.get("entries"), manifest.get("head_hash"), manifest.get("checkpoints")) != (
            report.entries, report.head_hash, report.checkpoints):
        return _failed("MANIFEST.json counts or head hash do not match the entries", report=report)
    return report


VERIFY_GUIDE = """\
# Verifying this audit ledger bundle

This folder is an export of a records-governance audit ledger: {ENTRIES} entries,
{CHECKPOINTS} signed checkpoints, head hash `{HEAD_HASH}`. The newest checkpoint is
signed by key `{NEWEST_KEY_ID}`, whose SHA-256 fingerprint is

    {FINGERPRINT}

**Compare that fingerprint with the one the organisation published separately**
(for example in its records management policy). A bundle can be internally
consistent yet re-signed by someone else's key; only the fingerprint tells.

## With the governance tool

    governance audit verify --bundle . --expect-key-id <published fingerprint or key id>

Exit code 0 means intact, 1 means altered (the first bad entry is named).

## By hand (Python 3 with the `cryptography` package, nothing else)

1. Files: `MANIFEST.json` lists the SHA-256 of every other file; `sha256sum` them.
2. Canonical JSON: `json.dumps(value, sort_keys=True, separators=(",", ":"),
   ensure_ascii=False)` encoded UTF-8. Values are only strings, integers,
   booleans, null, arrays and objects. Every line in `entries.jsonl` and
   `checkpoints.jsonl` is already canonical.
3. Keys: each `public-keys/<key_id>.pem` is an Ed25519 key; `key_id` is the first 16
   hex characters of SHA-256 over the raw 32-byte public key.
4. Checkpoints: the signature (hex) is Ed25519 over the canonical JSON of
   `{"entry_hash", "key_id", "seq", "signed_at"}` (the line minus `signature`).
5. Entries, in order: `seq` is 1, 2, 3, ...; `prev_hash` is the previous entry's
   `entry_hash` (64 zeros for entry 1); `entry_hash` is
   `sha256(prev_hash + "\\n" + canonical(entry without prev_hash and entry_hash))`
   in lower-case hex; where a checkpoint has the same `seq`, its `entry_hash` must
   equal the one you computed. No checkpoint may name a `seq` past the last entry.

Save this as `check.py` and run `python3 check.py <bundle folder>`:

```python
import hashlib, json, pathlib, sys
from cryptography.hazmat.primitives import serialization

bundle = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")

def canon(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

keys = {}
for pem in sorted((bundle / "public-keys").glob("*.pem")):
    key = serialization.load_pem_public_key(pem.read_bytes())
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    fingerprint = hashlib.sha256(raw).hexdigest()
    assert fingerprint[:16] == pem.stem, f"{pem.name}: key does not match its name"
    keys[pem.stem] = key
    print("key", pem.stem, "fingerprint", fingerprint)

sealed = {}
for line in (bundle / "checkpoints.jsonl").read_text("utf-8").splitlines():
    cp = json.loads(line)
    signed = {name: cp[name] for name in ("entry_hash", "key_id", "seq", "signed_at")}
    keys[cp["key_id"]].verify(bytes.fromhex(cp["signature"]), canon(signed))  # raises if forged
    sealed[cp["seq"]] = cp["entry_hash"]

prev, seq = "0" * 64, 0
with open(bundle / "entries.jsonl", encoding="utf-8") as lines:
    for line in lines:
        entry = json.loads(line)
        seq += 1
        assert entry["seq"] == seq, f"entry {seq} missing or out of order"
        assert entry["prev_hash"] == prev, f"entry {seq}: chain broken"
        body = {name: value for name, value in entry.items() if name not in ("prev_hash", "entry_hash")}
        digest = hashlib.sha256(prev.encode("ascii") + b"\\n" + canon(body)).hexdigest()
        assert digest == entry["entry_hash"], f"entry {seq}: altered"
        assert sealed.get(seq, digest) == digest, f"entry {seq}: does not match its signed checkpoint"
        prev = digest
assert all(s <= seq for s in sealed), f"entries after seq {seq} missing"
print(f"OK: {seq} entries, {len(sealed)} checkpoints, head {prev}")
```

Entries after the newest checkpoint are chained but not yet signed: anyone
could have removed them. The export seals the head before writing, so normally
there are none.
"""
