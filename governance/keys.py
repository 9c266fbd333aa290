"""Key files: named 32-byte data keys (the ledger's signing key is in governance.ledger.signing).

Keys live in one folder (``Settings.keys_dir``), created ``0700``; every key file
is created ``0600`` and atomically (written to a private temporary file, then
hard-linked into place, so a reader never sees a half-written key and two
processes racing to create the same key agree on one). Keys are generated on
first use so a fresh installation works without a set-up step; production
deployments mount a folder that already holds them.

Nothing here logs key material or puts it in an exception message: errors name
the file and the problem only, and are raised ``from None`` so that a library
exception (which might quote input bytes) is not chained into a traceback.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from governance.errors import KeyMaterialError

__all__ = [
    "KeyStore",
    "DATA_KEY_BYTES",
    "create_key_file",
]

DATA_KEY_BYTES = 32
_DATA_KEY_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


class KeyStore:
    """Key files in one folder; keys are cached in memory once loaded."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)
        self._lock = threading.Lock()
        self._data: dict[str, bytes] = {}

    # -- data keys -----------------------------------------------------------

    def data_key(self, name: str) -> bytes:
        """A named 32-byte random key (for AES-256-GCM), generated on first use."""
        if not isinstance(name, str) or not _DATA_KEY_NAME.match(name):
            raise KeyMaterialError(f"data key name {name!r} is not valid: use 1-64 of a-z, 0-9, _ and -")
        with self._lock:
            if name not in self._data:
                path = self.keys_dir / f"{name}.key"
                if not path.exists():
                    self._create_file(path, os.urandom(DATA_KEY_BYTES))
                data = self._read(path)
                if len(data) != DATA_KEY_BYTES:
                    raise KeyMaterialError(
                        f"key file {path} is malformed (expected {DATA_KEY_BYTES} bytes, found {len(data)})"
                    )
                self._data[name] = data
            return self._data[name]

    def destroy_data_key(self, name: str) -> bool:
        """Remove a named data key (crypto-shredding what it encrypted); False if there was none."""
        if not isinstance(name, str) or not _DATA_KEY_NAME.match(name):
            raise KeyMaterialError(f"data key name {name!r} is not valid: use 1-64 of a-z, 0-9, _ and -")
        with self._lock:
            self._data.pop(name, None)
            try:
                (self.keys_dir / f"{name}.key").unlink()
            except FileNotFoundError:
                return False
            return True

    # -- files ---------------------------------------------------------------

    def _ensure_dir(self) -> None:
        if self.keys_dir.is_dir():
            return
        try:
            self.keys_dir.mkdir(mode=0o700, parents=True)
            os.chmod(self.keys_dir, 0o700)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            if not self.keys_dir.is_dir():  # else another process or thread just made it
                raise KeyMaterialError(f"keys folder {self.keys_dir} exists but is not a folder") from None
        except OSError as exc:
            raise KeyMaterialError(f"cannot create keys folder {self.keys_dir} ({type(exc).__name__})") from None

    def _create_file(self, path: Path, data: bytes) -> None:
        """Create ``path`` with ``data``, mode 0600, atomically; keep a file a racer made first."""
        self._ensure_dir()
        create_key_file(path, data)

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key file {path} ({type(exc).__name__})") from None


def create_key_file(path: Path, data: bytes) -> None:
    """Create ``path`` (its folder exists) with ``data``, mode 0600, atomically.

    Written to a private temporary file and hard-linked into place, so a reader
    never sees half a key and, of two processes racing, the first one's file wins.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails if another process created the key first: theirs wins
        except FileExistsError:
            pass
    except OSError as exc:
        raise KeyMaterialError(f"cannot create key file {path} ({type(exc).__name__})") from None
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
