"""Key files: the ledger's Ed25519 signing key and named 32-byte data keys.

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

import hashlib
import os
import re
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.errors import KeyMaterialError

__all__ = [
    "KeyStore",
    "SIGNING_KEY_FILE",
    "DATA_KEY_BYTES",
    "fingerprint",
    "key_id_of",
    "load_public_key",
]

SIGNING_KEY_FILE = "ledger-signing.pem"
DATA_KEY_BYTES = 32
_DATA_KEY_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: what auditors compare."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key's id: the first 16 hex characters of its fingerprint."""
    return fingerprint(public_key)[:16]


def load_public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key in PEM; ``source`` names it in errors."""
    try:
        key = serialization.load_pem_public_key(pem)
    except Exception:  # noqa: BLE001 - any parse failure is "malformed"
        raise KeyMaterialError(f"public key {source} is malformed (expected an Ed25519 public key in PEM)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyMaterialError(f"public key {source} is not an Ed25519 key")
    return key


class KeyStore:
    """Key files in one folder; keys are cached in memory once loaded."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)
        self._lock = threading.Lock()
        self._signing: Ed25519PrivateKey | None = None
        self._data: dict[str, bytes] = {}

    # -- signing key ---------------------------------------------------------

    @property
    def signing_key_path(self) -> Path:
        return self.keys_dir / SIGNING_KEY_FILE

    def has_signing_key(self) -> bool:
        """Whether the signing key file exists (without creating it)."""
        return self.signing_key_path.is_file()

    def signing_key(self) -> Ed25519PrivateKey:
        """The ledger signing key, generated and saved on first use."""
        with self._lock:
            if self._signing is None:
                path = self.signing_key_path
                if not path.exists():
                    new_key = Ed25519PrivateKey.generate()
                    pem = new_key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                    self._create_file(path, pem)
                self._signing = self._load_signing(path)
            return self._signing

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def public_key_pem(self) -> bytes:
        """The signing key's public half, SubjectPublicKeyInfo PEM."""
        return self.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def key_id(self) -> str:
        """First 16 hex characters of SHA-256 of the raw public key."""
        return key_id_of(self.public_key())

    def fingerprint(self) -> str:
        """Full SHA-256 (hex) of the raw public key, for publishing out of band."""
        return fingerprint(self.public_key())

    def _load_signing(self, path: Path) -> Ed25519PrivateKey:
        data = self._read(path)
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except Exception:  # noqa: BLE001 - malformed, encrypted, unsupported: all "unusable"
            raise KeyMaterialError(
                f"key file {path} is malformed or encrypted (expected an unencrypted PKCS8 PEM Ed25519 key)"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMaterialError(f"key file {path} does not hold an Ed25519 private key")
        return key

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

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key file {path} ({type(exc).__name__})") from None
