"""Key management for study keys: one small interface shaped like a cloud KMS.

Envelope encryption: each study has its own random 32-byte key; what the
platform stores is that key *wrapped* (encrypted) by a key manager. A cloud KMS
(AWS KMS ``Encrypt``/``Decrypt``/``ScheduleKeyDeletion``, Google Cloud KMS,
Azure Key Vault) fits the same three calls:

- ``wrap(key) -> blob``: encrypt a data key; the blob names the key id it belongs to;
- ``unwrap(blob) -> key``: decrypt it, or :class:`KeyDestroyed` once destroyed;
- ``destroy(key_id)``: crypto-shred: nothing wrapped under that id opens again.

:class:`LocalKeyManager` is the default: AES-256-GCM under the research master
key, one shared data key (``research-master``) kept wrapped by the deployment's
key provider in the state database (:mod:`governance.keyprovider`), so a study
built on one worker ends on any other. The key id is the associated data (a blob
cannot be relabelled). ``destroy`` records the id among the destroyed keys in the
state database, so a wrapped key restored from a database backup still does not
open. Honest limit: someone holding an old database backup from before the
destruction *and* the provider's master key could unwrap a destroyed study key;
with a cloud KMS, map each study to its own KMS key and schedule its deletion,
which closes that gap (docs/research.md).
"""

from __future__ import annotations

import os
import re
import secrets
from abc import ABC, abstractmethod
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.config import Settings
from governance.errors import ConfigError, KeyMaterialError
from governance.keyprovider import SharedKeys, open_keys
from governance.research.errors import KeyDestroyed

__all__ = ["KeyManager", "LocalKeyManager", "open_kms", "register_kms", "MASTER_KEY_NAME"]

MASTER_KEY_NAME = "research-master"
_MAGIC = b"GVK1"
_ID_BYTES = 16
_NONCE = 12
_KEY_ID = re.compile(r"^rk-[0-9a-f]{32}$")
_DESTROYED = "research-study:{}"  # a destroyed study key's name among the shared keys


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

    def __init__(self, keys: SharedKeys, conn=None) -> None:
        self._keys = keys
        self._conn = conn  # the caller's state transaction, if any

    def _aead(self) -> AESGCM:
        return AESGCM(self._keys.data_key(MASTER_KEY_NAME, conn=self._conn))

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
        if self._keys.is_destroyed(_DESTROYED.format(key_id), conn=self._conn):
            raise KeyDestroyed(f"key {key_id} was destroyed")
        head = 4 + _ID_BYTES
        try:
            return self._aead().decrypt(bytes(blob[head:head + _NONCE]), bytes(blob[head + _NONCE:]), bytes(blob[:head]))
        except InvalidTag:
            raise KeyMaterialError(f"key {key_id} does not unwrap under this master key (wrong key or tampered)") from None

    def destroy(self, key_id: str) -> None:
        if not _KEY_ID.match(str(key_id)):
            raise KeyMaterialError("key id is malformed")
        self._keys.destroy_data_key(_DESTROYED.format(key_id), conn=self._conn)  # records the id; idempotent


_REGISTRY: dict[str, Callable[[Settings], KeyManager]] = {
    "local": lambda s, conn=None: LocalKeyManager(open_keys(s), conn)}


def register_kms(name: str, factory: Callable[[Settings], KeyManager]) -> None:
    """Add a key manager (e.g. a cloud KMS adapter) under ``name``."""
    _REGISTRY[name] = factory


def open_kms(settings: Settings, name: str = "local", conn=None) -> KeyManager:
    """The key manager registered as ``name``; each wrapped key records the name it was wrapped by."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no research key manager named {name!r} (known: {', '.join(_REGISTRY)})") from None
    return factory(settings, conn=conn) if conn is not None else factory(settings)
