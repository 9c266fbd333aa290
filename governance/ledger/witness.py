"""Witnesses: copies of every signed tree head kept where a database writer cannot reach.

A database writer can delete the newest entries together with their tree heads
and leave a shorter ledger that is consistent in itself. A witness remembers
every tree head the ledger ever signed, outside the database: verification
then names the head the database no longer has (or has differently).

* :class:`FileWitness` (the default): an append-only file of canonical tree
  heads, one per line, beside the keys (``<keys_dir>/ledger-witness.jsonl``),
  so the same people who guard the signing key guard it. Lines may arrive out
  of order or twice (two processes catching up); readers treat it as a set.
* :class:`S3Witness`: one object per tree head under a prefix of an Object
  Lock bucket, written in COMPLIANCE mode (nobody, root included, can delete
  or overwrite it before its retention date): the production choice.

``open_witness(url, keys_dir)`` picks one: ``None`` the default file, ``"none"``
no witness, ``file:///abs/path.jsonl`` a file, ``s3://bucket/prefix`` S3 (the
``GOVERNANCE_LEDGER_WITNESS_URL`` setting in the CLI and jobs).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from governance.errors import ConfigError, GovernanceError, LedgerError, LedgerIntegrityError, ObjectLocked
from governance.ledger.canonical import canonical
from governance.ledger.schema import Checkpoint

__all__ = ["Witness", "FileWitness", "S3Witness", "open_witness", "WITNESS_FILE", "WITNESS_ENV",
           "S3_RETENTION_DAYS"]

WITNESS_FILE = "ledger-witness.jsonl"
WITNESS_ENV = "GOVERNANCE_LEDGER_WITNESS_URL"
_TAIL = 8 * 1024  # bytes read from the end of a witness file to find its newest head
S3_RETENTION_DAYS = 365 * 100  # ledger evidence outlives the longest retention class (adoption: 100 years)


class Witness(Protocol):
    location: str

    def heads(self) -> list[Checkpoint]:
        """Every tree head witnessed, sorted by size, duplicates removed."""

    def newest(self) -> Checkpoint | None:
        """The witnessed tree head with the largest size, or None."""

    def publish(self, heads: list[Checkpoint]) -> None:
        """Record tree heads (already committed to the database)."""


def _parse(data: bytes, where: str) -> Checkpoint:
    try:
        text = data.decode("utf-8")
        head = Checkpoint.from_signed(json.loads(text))
        if canonical(head.signed()) != text:
            raise ValueError
    except (ValueError, UnicodeDecodeError, GovernanceError, RecursionError):
        raise LedgerIntegrityError(f"witness {where} is not a signed tree head") from None
    return head


def _dedupe(heads: list[Checkpoint], location: str) -> list[Checkpoint]:
    by_size: dict[int, Checkpoint] = {}
    for head in heads:
        seen = by_size.get(head.size)
        if seen is not None and seen.signed() != head.signed():
            raise LedgerIntegrityError(f"witness {location} holds two different tree heads at size {head.size}")
        by_size[head.size] = head
    return [by_size[size] for size in sorted(by_size)]


class FileWitness:
    """An append-only file of tree heads (one canonical JSON line each)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    def heads(self) -> list[Checkpoint]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise LedgerError(f"cannot read witness {self.path} ({type(exc).__name__})") from None
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        heads = [_parse(line, f"{self.path} line {n}") for n, line in enumerate(lines, start=1)]
        return _dedupe(heads, self.location)

    def newest(self) -> Checkpoint | None:
        """The largest head among the last lines (read from the end: sealing calls this every time)."""
        try:
            with open(self.path, "rb") as handle:
                end = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, end - _TAIL))
                tail = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"cannot read witness {self.path} ({type(exc).__name__})") from None
        lines = tail.split(b"\n")
        if end > _TAIL:
            lines = lines[1:]  # the first may be cut
        heads = [_parse(line, f"{self.path} (near its end)") for line in lines if line]
        return max(heads, key=lambda h: h.size) if heads else None

    def publish(self, heads: list[Checkpoint]) -> None:
        if not heads:
            return
        data = b"".join(canonical(h.signed()).encode("utf-8") + b"\n" for h in heads)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)  # one write per batch: O_APPEND keeps concurrent writers' lines whole
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise LedgerError(f"cannot append to witness {self.path} ({type(exc).__name__})") from None


class S3Witness:
    """One object per tree head, ``<prefix>/<size, 20 digits>.json``, under COMPLIANCE retention."""

    def __init__(self, store: Any, *, retention_days: int = S3_RETENTION_DAYS) -> None:
        self.store = store
        self.location = getattr(store, "uri", "s3")
        self.retention = timedelta(days=retention_days)

    def _keys(self) -> list[str]:
        return sorted(key for key in self.store.list("") if key.endswith(".json"))

    def heads(self) -> list[Checkpoint]:
        heads = [_parse(self.store.get(key), f"{self.location}/{key}") for key in self._keys()]
        for key, head in zip(self._keys(), heads):
            if key != f"{head.size:020d}.json":
                raise LedgerIntegrityError(f"witness object {self.location}/{key} holds the tree head of size {head.size}")
        return _dedupe(heads, self.location)

    def newest(self) -> Checkpoint | None:
        keys = self._keys()
        return _parse(self.store.get(keys[-1]), f"{self.location}/{keys[-1]}") if keys else None

    def publish(self, heads: list[Checkpoint]) -> None:
        until = datetime.now(timezone.utc) + self.retention  # an adapter: it may read the clock
        for head in heads:
            key = f"{head.size:020d}.json"
            try:
                self.store.put(key, canonical(head.signed()).encode("utf-8"), retain_until=until)
            except ObjectLocked:
                pass  # already witnessed (a concurrent catch-up); verify compares the content


def open_witness(url: str | None, keys_dir: Path | None, *, s3_endpoint_url: str | None = None) -> Witness | None:
    """The witness named by ``url`` (see module doc); None when there is none."""
    if url is None:
        return FileWitness(Path(keys_dir) / WITNESS_FILE) if keys_dir is not None else None
    url = url.strip()
    if url.lower() in ("", "none", "off"):
        return None
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FileWitness(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        from governance.storage.registry import open_object_store  # noqa: PLC0415

        return S3Witness(open_object_store(url, s3_endpoint_url=s3_endpoint_url))
    raise ConfigError(f"ledger witness URL must be file:///path, s3://bucket/prefix or 'none' (scheme {parts.scheme!r})")
