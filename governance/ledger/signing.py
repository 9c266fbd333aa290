"""The ledger's Ed25519 signing key: a file in the keys folder, never minted behind anyone's back.

``ledger-signing.pem`` (unencrypted PKCS8) lives in ``Settings.keys_dir``,
created ``0600`` in a ``0700`` folder, atomically (private temporary file, then
``link``, so two processes racing to create it agree on one key). A key is
created only by :meth:`LedgerSigner.create` — ``governance keys init`` and
``keys rotate`` — or, once, by the first append to a brand-new ledger (no
entries, no registered key, nothing witnessed): that *is* the ledger's
``keys init``. After that the ledger refuses to append with a missing or
foreign key (see :mod:`governance.ledger.keyring`).

Rotation writes the new key as ``ledger-signing.next.pem`` first; once the
ledger has recorded the rotation, the old key is kept as
``ledger-signing.<key_id>.retired.pem`` and the new one takes its place.

Errors name the file and the problem, never key bytes, and are raised ``from
None`` so a library exception (which might quote input) is not chained.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from governance.errors import KeyMaterialError

__all__ = ["LedgerSigner", "SIGNING_KEY_FILE", "NEXT_KEY_FILE", "fingerprint", "key_id_of", "load_public_key",
           "public_pem", "signer_for"]

SIGNING_KEY_FILE = "ledger-signing.pem"
NEXT_KEY_FILE = "ledger-signing.next.pem"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: what auditors compare."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key's id: the first 16 hex characters of its fingerprint."""
    return fingerprint(public_key)[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    """Parse an Ed25519 public key in PEM; ``source`` names it in errors."""
    try:
        key = serialization.load_pem_public_key(pem)
    except Exception:  # noqa: BLE001 - any parse failure is "malformed"
        raise KeyMaterialError(f"public key {source} is malformed (expected an Ed25519 public key in PEM)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyMaterialError(f"public key {source} is not an Ed25519 key")
    return key


class LedgerSigner:
    """The signing key file in one folder; loaded once, never created implicitly."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)
        self._lock = threading.Lock()
        self._key: Ed25519PrivateKey | None = None

    @property
    def path(self) -> Path:
        return self.keys_dir / SIGNING_KEY_FILE

    @property
    def next_path(self) -> Path:
        return self.keys_dir / NEXT_KEY_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def private_key(self) -> Ed25519PrivateKey:
        """The signing key; KeyMaterialError if the file is missing or unusable."""
        with self._lock:
            if self._key is None:
                if not self.path.is_file():
                    raise KeyMaterialError(f"no ledger signing key at {self.path}")
                self._key = _load_private(self.path)
            return self._key

    def public_key(self) -> Ed25519PublicKey:
        return self.private_key().public_key()

    def public_key_pem(self) -> bytes:
        return public_pem(self.public_key())

    def key_id(self) -> str:
        return key_id_of(self.public_key())

    def fingerprint(self) -> str:
        return fingerprint(self.public_key())

    def sign(self, payload: bytes) -> str:
        return self.private_key().sign(payload).hex()

    def create(self) -> str:
        """Mint the signing key (``keys init``); refuses if one exists. Returns its key id."""
        if self.path.exists():
            raise KeyMaterialError(f"a ledger signing key already exists at {self.path}; refusing to replace it")
        _create_file(self.keys_dir, self.path, _new_pem())
        with self._lock:
            self._key = None
        return self.key_id()

    def prepare_next(self) -> Ed25519PrivateKey:
        """The rotation's new key, ``ledger-signing.next.pem`` (created if absent, reused after a crash)."""
        if not self.next_path.exists():
            _create_file(self.keys_dir, self.next_path, _new_pem())
        return _load_private(self.next_path)

    def promote_next(self) -> None:
        """Finish a rotation: keep the old key as ``<key_id>.retired.pem``, the next key becomes current."""
        old_id = self.key_id() if self.exists() else None
        try:
            if old_id is not None:
                os.replace(self.path, self.keys_dir / f"ledger-signing.{old_id}.retired.pem")
            os.replace(self.next_path, self.path)
        except OSError as exc:
            raise KeyMaterialError(f"cannot finish the key rotation in {self.keys_dir} ({type(exc).__name__})") from None
        with self._lock:
            self._key = None


def signer_for(keys: Any) -> LedgerSigner | None:
    """A LedgerSigner from what callers pass to ``Ledger.open``: a signer, a KeyStore-like object
    with ``keys_dir``, a folder path, or None (read-only)."""
    if keys is None or isinstance(keys, LedgerSigner):
        return keys
    folder = getattr(keys, "keys_dir", keys)
    return LedgerSigner(Path(folder))


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read key file {path} ({type(exc).__name__})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except Exception:  # noqa: BLE001 - malformed, encrypted, unsupported: all "unusable"
        raise KeyMaterialError(
            f"key file {path} is malformed or encrypted (expected an unencrypted PKCS8 PEM Ed25519 key)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyMaterialError(f"key file {path} does not hold an Ed25519 private key")
    return key


def _create_file(folder: Path, path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``, mode 0600, atomically, in a 0700 folder (see keys.create_key_file)."""
    from governance.keys import create_key_file

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyMaterialError(f"cannot create keys folder {folder} ({type(exc).__name__})") from None
    create_key_file(path, data)
