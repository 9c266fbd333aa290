"""The object storage interface every backend implements, and the rules they share.

Documents, exports and evidence packs are stored as objects under keys that look
like relative POSIX paths (``cases/C000123/doc-1.pdf``). Two backends implement
:class:`ObjectStore`: a local folder (the embedded default) and S3 (or an
S3-compatible server such as MinIO). Both pass one contract test suite, so code
above this layer never needs to know which one it has.

Messages name keys, folders, buckets and rules only; object content is never
logged or put in an error.
"""

from __future__ import annotations

import builtins  # ObjectStore has a method called `list`; annotations say builtins.list
import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from governance.errors import StorageError

__all__ = [
    "MAX_KEY_BYTES",
    "MAX_URL_EXPIRY_SECONDS",
    "ObjectInfo",
    "ObjectStore",
    "check_data",
    "check_expires_in",
    "check_retain_until",
    "is_valid_key",
    "sha256_hex",
    "validate_key",
]

# S3's own limit on a key; applying it everywhere keeps keys portable between backends.
MAX_KEY_BYTES = 1024
# S3 presigned URLs signed with SigV4 cannot live longer than seven days.
MAX_URL_EXPIRY_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class ObjectInfo:
    """What a ``put`` stored: enough to record the object in the audit ledger."""

    key: str
    size: int
    sha256: str
    """Hex SHA-256 of the content, computed client-side."""
    version_id: str | None
    """Backend version id; ``"local"`` for a folder, ``None`` on an unversioned bucket."""
    retain_until: datetime | None
    """End of write-once retention, or ``None`` when the object is not retained."""


# Concurrent deletions in the default delete_many (each one an HTTP round trip on S3).
DELETE_THREADS = 8


class ObjectStore(ABC):
    """Object storage behind one small interface.

    ``uri`` identifies the store without credentials (``file:///abs/folder``,
    ``s3://bucket/prefix``) and is safe to log and record.
    """

    uri: str

    @abstractmethod
    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> ObjectInfo:
        """Store ``data`` under ``key``; with ``retain_until`` it is write-once until then.

        Raises :class:`ObjectLocked` if the key's current object is still retained.
        """

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Content of the latest version; :class:`ObjectNotFound` if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether a latest (not deleted) version exists."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix`` (a plain string prefix, as S3), sorted, streamed."""

    @abstractmethod
    def versions(self, key: str) -> builtins.list[str]:
        """Every stored version id of ``key`` (S3: delete markers too); ``[]`` if none."""

    @abstractmethod
    def delete(self, key: str) -> int:
        """Remove every version (and delete marker) of ``key``; return how many were removed.

        Returns 0 when nothing was stored. Raises :class:`ObjectLocked`, removing
        nothing, if any version is under retention.
        """

    def delete_many(self, keys: builtins.list[str]) -> int:
        """:meth:`delete` for many keys; return the versions removed in all.

        The default overlaps deletions in a few threads (they wait on the network
        or the disk, not the CPU); backends override it where a batch is cheaper.
        Deleting is idempotent, so a caller that dies part-way simply calls again.
        Every key is validated before anything is removed; each key's versions go
        all or none (:meth:`delete`), and a retained key raises :class:`ObjectLocked`.
        """
        keys = [validate_key(key) for key in keys]
        if len(keys) < 2:
            return sum(self.delete(key) for key in keys)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=DELETE_THREADS, thread_name_prefix="object-delete") as pool:
            return sum(pool.map(self.delete, keys))

    def locked(self, keys: builtins.list[str]) -> dict[str, datetime]:
        """Of these keys, those that cannot be deleted now, each with when that ends.

        A key is locked while any of its versions is under write-once retention or
        a legal hold (which has no end: ``datetime.max``). Judged by the wall clock,
        as :meth:`delete` is, so a caller can leave a locked object's record alone
        instead of finding out half way through a destruction. Missing keys are
        not locked. Every key is validated first.
        """
        keys = [validate_key(key) for key in keys]
        if not keys or not self.supports_object_lock():
            return {}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=DELETE_THREADS, thread_name_prefix="object-lock-check") as pool:
            return {key: until for key, until in zip(keys, pool.map(self._locked_until, keys)) if until is not None}

    def _locked_until(self, key: str) -> datetime | None:
        """When the latest retention or hold on any version of ``key`` ends; None if it can go now."""
        raise NotImplementedError(f"{type(self).__name__} supports Object Lock but cannot report it")

    @abstractmethod
    def url_for(self, key: str, expires_in: int) -> str:
        """A URL to read ``key``: presigned on S3, a non-expiring ``file://`` URI locally."""

    @abstractmethod
    def supports_object_lock(self) -> bool:
        """Whether ``put(..., retain_until=...)`` is enforced by this store."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
# Segments of printable ASCII other than "/" and "\", none starting with ".", joined by single "/".
_PLAIN_ASCII_KEY = re.compile(r"[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*(?:/[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*)*")
_FAST_PATH_MAX = 1024  # ASCII: one byte per character, so within MAX_KEY_BYTES


def validate_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise :class:`StorageError`.

    Rules (the same on every backend, so a key that works locally works on S3):
    a non-empty relative POSIX path; no leading ``/``; no backslash; no empty
    segment (``a//b``, trailing ``/``); no segment starting with ``.`` (which
    rules out ``.`` and ``..`` and keeps names the local backend reserves for
    its own bookkeeping); no control characters; at most 1024 UTF-8 bytes.
    """
    if not isinstance(key, str):
        raise StorageError(f"object key must be a string, not {type(key).__name__}")
    if len(key) <= _FAST_PATH_MAX and key.isascii() and _PLAIN_ASCII_KEY.fullmatch(key):
        return key  # the common case in one regex; anything else gets the checks below, which name the rule

    def broken(rule: str) -> StorageError:
        # repr() keeps the message on one line even for keys with odd characters.
        return StorageError(f"object key {key!r} is not valid: {rule}")

    if not key:
        raise broken("it is empty")
    if _CONTROL_CHARACTER.search(key):
        raise broken("control characters are not allowed")
    if "\\" in key:
        raise broken("backslashes are not allowed (use /)")
    if key.startswith("/"):
        raise broken("absolute paths are not allowed (no leading /)")
    segments = key.split("/")
    if any(seg == "" for seg in segments):
        raise broken("empty path segments are not allowed (no // or trailing /)")
    if any(seg == ".." for seg in segments):
        raise broken("'..' segments are not allowed")
    if any(seg.startswith(".") for seg in segments):
        raise broken("segments may not start with '.'")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise broken("it is not valid UTF-8 text") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise broken(f"longer than {MAX_KEY_BYTES} bytes")
    return key


def is_valid_key(candidate: str) -> bool:
    """Whether ``candidate`` passes :func:`validate_key`; listings use it to skip names no key can have."""
    try:
        validate_key(candidate)
    except StorageError:
        return False
    return True


def check_retain_until(key: str, retain_until: datetime | None) -> datetime | None:
    """Validate a retention date: timezone-aware and in the future.

    A past date would be a silent no-op on one backend and an error on another;
    refusing it everywhere keeps the contract the same.
    """
    if retain_until is None:
        return None
    if not isinstance(retain_until, datetime):
        raise StorageError(f"retain_until for key {key!r} must be a datetime, not {type(retain_until).__name__}")
    if retain_until.tzinfo is None or retain_until.utcoffset() is None:
        raise StorageError(f"retain_until for key {key!r} must be timezone-aware (e.g. UTC)")
    if retain_until <= datetime.now(timezone.utc):
        raise StorageError(f"retain_until for key {key!r} is not in the future ({retain_until.isoformat()})")
    return retain_until


def check_expires_in(key: str, expires_in: int) -> int:
    """Validate a URL lifetime in seconds: 1 to 7 days, as S3 allows."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise StorageError(f"expires_in for key {key!r} must be a whole number of seconds")
    if not 1 <= expires_in <= MAX_URL_EXPIRY_SECONDS:
        raise StorageError(
            f"expires_in for key {key!r} must be between 1 and {MAX_URL_EXPIRY_SECONDS} seconds, not {expires_in}"
        )
    return expires_in


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_data(key: str, data: bytes) -> bytes:
    """Refuse anything but bytes: a str would be encoded ambiguously, a file object not at all."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise StorageError(f"data for key {key!r} must be bytes, not {type(data).__name__}")
    return bytes(data)
