"""Object storage in a local folder: the embedded default, no server needed.

Layout under the root folder (created 0700 on first use)::

    <root>/<key>                     the object, a 0600 file, written atomically
    <root>/.retention/<key>.json     write-once retention record, when one was asked for

Honest limits, compared with S3:

* One version per key. Overwriting replaces the file, so :meth:`versions`
  returns ``["local"]`` or ``[]`` and :meth:`delete` removes at most one.
* Retention is enforced by this class, not by the filesystem: anyone with
  write access to the folder can still remove files. It mirrors S3 Object Lock
  in COMPLIANCE mode for code that goes through this interface.
* A key cannot be both an object and a "folder" of other objects (``a`` and
  ``a/b``), because a file and a directory cannot share a name. S3 allows it;
  here ``put`` raises :class:`StorageError` naming both keys' shared segment.
* :meth:`url_for` returns a ``file://`` URI, which does not expire.
* Meant for one host: writes are atomic, but there is no cross-process lock
  around the "is it retained?" check.
"""

from __future__ import annotations

import builtins  # ObjectStore has a method called `list`; annotations say builtins.list
import errno
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from governance.errors import ConfigError, ObjectLocked, ObjectNotFound, StorageError, StorageUnavailable
from governance.storage.base import (
    ObjectInfo,
    ObjectStore,
    check_data,
    check_expires_in,
    check_retain_until,
    is_valid_key,
    sha256_hex,
    validate_key,
)

__all__ = ["LocalFolderStore", "LOCAL_VERSION_ID"]

log = logging.getLogger(__name__)

LOCAL_VERSION_ID = "local"
"""The only version id a local folder has: it keeps one version per key."""

# Names starting with "." are never valid key segments, so these cannot collide with objects.
_RETENTION_DIR = ".retention"
_TMP_PREFIX = ".tmp-"


class LocalFolderStore(ObjectStore):
    """Objects as files under one folder. See the module docstring for the limits."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root)
        if not path.is_absolute():
            raise ConfigError(f"object folder {str(path)!r} must be an absolute path")
        self.root = path
        self.uri = path.as_uri()
        self._ready = False

    # -- the interface -------------------------------------------------------------------

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> ObjectInfo:
        key = validate_key(key)
        data = check_data(key, data)
        retain_until = check_retain_until(key, retain_until)
        self._ensure_root()
        with self._os_errors("put", key):
            held = self._retained_until(key)
            if held is not None:
                raise _locked(key, held)
            sidecar = self._sidecar(key)
            if retain_until is not None:
                # Retention record first: if we crash before the object lands, the key
                # errs on the side of being kept, never on the side of being deletable.
                record = {"key": key, "mode": "COMPLIANCE", "retain_until": retain_until.isoformat()}
                self._write_atomic(sidecar, json.dumps(record, sort_keys=True).encode("utf-8"), key)
            elif sidecar.exists():
                # Expired record from an earlier put; it no longer applies to new content.
                sidecar.unlink()
            self._write_atomic(self._path(key), data, key)
        return ObjectInfo(
            key=key,
            size=len(data),
            sha256=sha256_hex(data),
            version_id=LOCAL_VERSION_ID,
            retain_until=retain_until,
        )

    def get(self, key: str) -> bytes:
        key = validate_key(key)
        self._ensure_root()
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(f"no object under key {key!r} in {self.uri}") from None
        except OSError as exc:
            raise StorageError(f"cannot read key {key!r} in {self.uri}: {exc.strerror or type(exc).__name__}") from exc

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        self._ensure_root()
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        if not isinstance(prefix, str):
            raise StorageError(f"list prefix must be a string, not {type(prefix).__name__}")
        self._ensure_root()
        return self._walk(self.root, "", prefix)

    def versions(self, key: str) -> builtins.list[str]:
        return [LOCAL_VERSION_ID] if self.exists(key) else []

    def delete(self, key: str) -> int:
        key = validate_key(key)
        self._ensure_root()
        with self._os_errors("delete", key):
            held = self._retained_until(key)
            if held is not None:
                raise _locked(key, held)
            path = self._path(key)
            removed = 0
            if path.is_file():
                path.unlink()
                removed = 1
            sidecar = self._sidecar(key)
            sidecar.unlink(missing_ok=True)
            self._prune_empty_dirs(path.parent, self.root)
            self._prune_empty_dirs(sidecar.parent, self.root / _RETENTION_DIR)
        log.debug("deleted key %r from %s (%d version(s))", key, self.uri, removed)
        return removed

    def delete_many(self, keys: list[str]) -> int:
        """Every key in one pass: retention checked for all first, then files removed, then folders pruned.

        Nothing is removed if any key is retained. Each folder is pruned once
        (deepest first) rather than once per key, and paths are plain strings:
        the cost stays near that of the bare ``unlink`` and ``rmdir`` calls.
        """
        keys = [validate_key(key) for key in keys]
        self._ensure_root()
        has_retention = (self.root / _RETENTION_DIR).is_dir()
        if has_retention:
            for key in keys:
                with self._os_errors("delete", key):
                    held = self._retained_until(key)
                if held is not None:
                    raise _locked(key, held)
        removed, folders = 0, set()
        bases = [str(self.root)] + ([str(self.root / _RETENTION_DIR)] if has_retention else [])
        for key in keys:
            parts = key.split("/")
            with self._os_errors("delete", key):
                try:
                    os.unlink(os.path.join(bases[0], *parts))
                    removed += 1
                except FileNotFoundError:
                    pass  # already gone: deleting is idempotent
                if has_retention:
                    try:
                        os.unlink(os.path.join(bases[1], *parts[:-1], parts[-1] + ".json"))
                    except FileNotFoundError:
                        pass
            for depth in range(1, len(parts)):
                folders.update(os.path.join(base, *parts[:depth]) for base in bases)
        for folder in sorted(folders, key=lambda f: f.count(os.sep), reverse=True):
            try:
                os.rmdir(folder)
            except OSError:
                pass  # not empty (or already gone): a folder still holding other keys stays
        log.debug("deleted %d key(s) from %s (%d version(s))", len(keys), self.uri, removed)
        return removed

    def url_for(self, key: str, expires_in: int) -> str:
        """``file://`` URI of the object. It does not expire: ``expires_in`` is only validated."""
        key = validate_key(key)
        check_expires_in(key, expires_in)
        return self._path(key).as_uri()

    def supports_object_lock(self) -> bool:
        return True

    def locked(self, keys: builtins.list[str]) -> dict[str, datetime]:
        """Retention records read in one pass (no threads: they are small local files)."""
        keys = [validate_key(key) for key in keys]
        self._ensure_root()
        if not (self.root / _RETENTION_DIR).is_dir():
            return {}  # nothing was ever stored with retention here
        found = {}
        for key in keys:
            with self._os_errors("retention check", key):
                until = self._retained_until(key)
            if until is not None:
                found[key] = until
        return found

    # -- helpers ---------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        # Safe to join: validate_key has ruled out absolute paths, "..", and "." names.
        return self.root.joinpath(*key.split("/"))

    def _sidecar(self, key: str) -> Path:
        parts = key.split("/")
        return self.root.joinpath(_RETENTION_DIR, *parts[:-1], parts[-1] + ".json")

    def _ensure_root(self) -> None:
        """Create the root folder (0700) on first use; fail with one line if it is unusable."""
        if self._ready:
            return
        root = self.root
        try:
            if not root.exists():
                root.mkdir(parents=True, mode=0o700, exist_ok=True)
                os.chmod(root, 0o700)  # mkdir's mode is filtered by the umask
            if not root.is_dir():
                raise StorageUnavailable(f"object folder {root} is not a folder")
            if not os.access(root, os.W_OK | os.X_OK):
                raise StorageUnavailable(f"object folder {root} is not writable")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StorageUnavailable(f"object folder {root} cannot be created or used: {reason}") from exc
        self._ready = True

    def _retained_until(self, key: str) -> datetime | None:
        """End of the key's retention if it is still in force, else ``None``.

        Storage is infrastructure mimicking S3 Object Lock, which also judges
        retention by the current time, so reading the wall clock here is deliberate
        (the rest of the platform takes "now" as a parameter).
        """
        sidecar = self._sidecar(key)
        if not sidecar.is_file():
            return None
        if not self._path(key).is_file():
            # A record with no object is residue of a put that crashed before the
            # object landed: there is nothing to protect.
            return None
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
            until = datetime.fromisoformat(record["retain_until"])
        except (ValueError, KeyError, TypeError) as exc:
            # Fail closed: an unreadable record must not make a retained object deletable.
            raise StorageError(f"retention record for key {key!r} in {self.uri} is unreadable") from exc
        if until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        return until if until > datetime.now(timezone.utc) else None

    def _write_atomic(self, path: Path, data: bytes, key: str) -> None:
        """Write via a temp file in the same folder, fsync, then rename over the target."""
        self._make_dirs(path.parent, key)
        if path.is_dir():
            raise StorageError(
                f"cannot store key {key!r}: other objects are stored under {key + '/'!r}"
                " (a local folder cannot hold an object and a folder of the same name)"
            )
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)  # created 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp_name, 0o600)
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(path.parent)

    def _make_dirs(self, folder: Path, key: str) -> None:
        """Create ``folder`` and missing parents below the root, each 0700."""
        missing: list[Path] = []
        current = folder
        while current != self.root and not current.is_dir():
            # Re-check is_dir(): another writer may have created the folder since the
            # loop test (concurrent puts under one prefix are normal).
            if (current.exists() or current.is_symlink()) and not current.is_dir():
                # A file sits where the key needs a folder ("a" stored, now "a/b").
                rel = current.relative_to(self.root).as_posix()
                raise StorageError(
                    f"cannot store key {key!r}: {rel!r} is already an object"
                    " (a local folder cannot hold an object and a folder of the same name)"
                )
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            try:
                path.mkdir(mode=0o700)
            except FileExistsError:
                if not path.is_dir():
                    raise
            os.chmod(path, 0o700)

    @staticmethod
    def _prune_empty_dirs(folder: Path, stop: Path) -> None:
        """Remove now-empty folders up to (not including) ``stop``, so a deleted key leaves no trace."""
        while folder != stop and stop in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or already gone): stop climbing
            folder = folder.parent

    def _walk(self, folder: Path, rel: str, prefix: str) -> Iterator[str]:
        """Yield keys under ``folder`` in S3 order (UTF-8 byte order of the whole key).

        Sorting folder names as ``name + "/"`` makes a depth-first walk produce
        exactly the order a sort of the full keys would (``a-c`` before ``a/b``),
        without holding the whole listing in memory. Folders that cannot contain
        a key with the prefix are not entered.
        """
        try:
            with os.scandir(folder) as it:
                entries = []
                for entry in it:
                    if entry.name.startswith("."):
                        continue  # retention records, temp files: never keys
                    is_dir = entry.is_dir(follow_symlinks=False)
                    entries.append((entry.name + "/" if is_dir else entry.name, is_dir, entry))
        except FileNotFoundError:
            return  # removed while we were listing
        except OSError as exc:
            raise StorageError(f"cannot list {self.uri}: {exc.strerror or type(exc).__name__}") from exc
        entries.sort(key=lambda item: item[0])
        for sort_name, is_dir, entry in entries:
            candidate = rel + sort_name
            if is_dir:
                if candidate.startswith(prefix) or prefix.startswith(candidate):
                    yield from self._walk(Path(entry.path), candidate, prefix)
            elif candidate.startswith(prefix) and entry.is_file(follow_symlinks=False) and is_valid_key(candidate):
                yield candidate

    @contextmanager
    def _os_errors(self, op: str, key: str) -> Iterator[None]:
        """Turn filesystem errors into one-line StorageErrors naming the key, not the content."""
        try:
            yield
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
                raise StorageUnavailable(
                    f"object folder {self.root} refused {op} of key {key!r}: {exc.strerror}"
                ) from exc
            raise StorageError(f"{op} of key {key!r} in {self.uri} failed: {exc.strerror or type(exc).__name__}") from exc


def _locked(key: str, until: datetime) -> ObjectLocked:
    return ObjectLocked(
        f"object {key!r} is under write-once retention until {until.isoformat()}: it cannot be deleted or overwritten yet"
    )



def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not every platform can fsync a directory, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
