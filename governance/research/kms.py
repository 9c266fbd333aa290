"""Key management for study keys: one small interface shaped like a cloud KMS.

Envelope encryption: each study has its own random 32-byte key; what the
platform stores is that key *wrapped* (encrypted) by a key manager. A cloud KMS
(AWS KMS ``Encrypt``/``Decrypt``/``ScheduleKeyDeletion``, Google Cloud KMS,
Azure Key Vault) fits the same three calls:

- ``wrap(key) -> blob``: encrypt a data key; the blob names the key id it belongs to;
- ``unwrap(blob) -> key``: decrypt it, or :class:`KeyDestroyed` once destroyed;
- ``destroy(key_id)``: crypto-shred: nothing wrapped under that id opens again.

:class:`LocalKeyManager` is the embedded default: AES-256-GCM under the master
key ``KeyStore(keys_dir).data_key("research-master")``, with the key id as
associated data (a blob cannot be relabelled). ``destroy`` records the id in a
0600 deny list beside the keys, so a wrapped key restored from a database
backup still does not open here. Honest limit: someone holding both an old
database backup *and* a copy of the master key file could unwrap a destroyed
study key; with a cloud KMS, map each study to its own KMS key and schedule its
deletion, which closes that gap (docs/research.md).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.config import Settings
from governance.errors import ConfigError, KeyMaterialError
from governance.keys import KeyStore
from governance.research.errors import KeyDestroyed

__all__ = ["KeyManager", "LocalKeyManager", "open_kms", "register_kms", "MASTER_KEY_NAME"]

MASTER_KEY_NAME = "research-master"
_MAGIC = b"GVK1"
_ID_BYTES = 16
_NONCE = 12
_KEY_ID = re.compile(r"^rk-[0-9a-f]{32}$")
_DENY_FILE = "research-destroyed-keys"


class KeyManager(ABC):
    """Wraps, unwraps and destroys data keys. ``name`` is recorded beside each wrapped key."""

    name: str

    @abstractmethod
    def wrap(self, key: bytes) -> bytes:
        """Encrypt ``key`` under a new key id; the blob carries the id."""

    @abstractmethod
    def unwrap(self, blob: bytes) -> bytes:
        """The key inside ``blob``; :class:`KeyDestroyed` if its id was destroyed."""

    @abstractmethod
    def destroy(self, key_id: str) -> None:
        """Make every blob of ``key_id`` unopenable. Idempotent."""

    @abstractmethod
    def key_id(self, blob: bytes) -> str:
        """The key id a blob belongs to (safe to log and record)."""


class LocalKeyManager(KeyManager):
    """AES-256-GCM under the local master key; see the module docstring for its limits."""

    name = "local"

    def __init__(self, keys_dir: Path) -> None:
        self._keys = KeyStore(Path(keys_dir))
        self._deny = Path(keys_dir) / _DENY_FILE
        self._lock = threading.Lock()

    def _aead(self) -> AESGCM:
        return AESGCM(self._keys.data_key(MASTER_KEY_NAME))

    def wrap(self, key: bytes) -> bytes:
        if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
            raise KeyMaterialError("only 32-byte keys are wrapped")
        raw_id, nonce = secrets.token_bytes(_ID_BYTES), os.urandom(_NONCE)
        return _MAGIC + raw_id + nonce + self._aead().encrypt(nonce, bytes(key), _MAGIC + raw_id)

    def key_id(self, blob: bytes) -> str:
        if not isinstance(blob, (bytes, bytearray)) or len(blob) < 4 + _ID_BYTES + _NONCE + 16 or blob[:4] != _MAGIC:
            raise KeyMaterialError("wrapped key is malformed")
        return "rk-" + bytes(blob[4:4 + _ID_BYTES]).hex()

    def unwrap(self, blob: bytes) -> bytes:
        key_id = self.key_id(blob)
        if key_id in self._destroyed():
            raise KeyDestroyed(f"key {key_id} was destroyed")
        head = 4 + _ID_BYTES
        try:
            return self._aead().decrypt(bytes(blob[head:head + _NONCE]), bytes(blob[head + _NONCE:]), bytes(blob[:head]))
        except InvalidTag:
            raise KeyMaterialError(f"key {key_id} does not unwrap under this master key (wrong key or tampered)") from None

    def destroy(self, key_id: str) -> None:
        if not _KEY_ID.match(str(key_id)):
            raise KeyMaterialError("key id is malformed")
        with self._lock:
            if key_id in self._destroyed():
                return
            self._deny.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._deny, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, f"{key_id}\n".encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def _destroyed(self) -> set[str]:
        try:
            return set(self._deny.read_text("ascii").split())
        except FileNotFoundError:
            return set()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read {self._deny} ({type(exc).__name__})") from None


_REGISTRY: dict[str, Callable[[Settings], KeyManager]] = {"local": lambda s: LocalKeyManager(s.keys_dir)}


def register_kms(name: str, factory: Callable[[Settings], KeyManager]) -> None:
    """Add a key manager (e.g. a cloud KMS adapter) under ``name``."""
    _REGISTRY[name] = factory


def open_kms(settings: Settings, name: str = "local") -> KeyManager:
    """The key manager registered as ``name``; each wrapped key records the name it was wrapped by."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no research key manager named {name!r} (known: {', '.join(_REGISTRY)})") from None
    return factory(settings)
