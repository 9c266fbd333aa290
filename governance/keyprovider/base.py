"""The key provider: the one master key every process of a deployment shares.

A provider holds (or reaches) a master key and does three things with it:

- ``wrap(key, context) -> blob``: encrypt a 32-byte data key, bound to ``context``
  (the data key's name), so a wrapped key cannot be relabelled as another;
- ``unwrap(blob, context) -> key``: the reverse; a wrong master key, a tampered
  blob or a wrong context is :class:`KeyMaterialError`, never a different key;
- ``master_key_id``: a label for the master key (safe to record beside each blob).

Data keys themselves (a SAR bundle's key, the tombstone key, the research master
key) are generated once, wrapped by the provider and stored in the state database
(:mod:`governance.keyprovider.shared`), so every worker reads the same key. The
provider never generates a master key on a worker, except the embedded default
(:class:`~governance.keyprovider.local.LocalFolderProvider` with ``create=True``),
which keeps a fresh single-machine installation working without a set-up step.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from abc import ABC, abstractmethod

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import KeyMaterialError

__all__ = ["KeyProvider", "AesGcmProvider", "DATA_KEY_BYTES", "parse_key_text", "check_data_key"]

DATA_KEY_BYTES = 32
_NONCE = 12
_MAGIC = b"GWK1"


def check_data_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != DATA_KEY_BYTES:
        raise KeyMaterialError(f"only {DATA_KEY_BYTES}-byte keys are wrapped")
    return bytes(key)


def parse_key_text(text: str, source: str) -> bytes:
    """A 32-byte key written as 64 hex digits or base64 (as secrets managers hold it)."""
    value = (text or "").strip()
    try:
        raw = bytes.fromhex(value) if len(value) == 2 * DATA_KEY_BYTES else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise KeyMaterialError(f"{source} is not a 32-byte key in hex or base64") from None
    if len(raw) != DATA_KEY_BYTES:
        raise KeyMaterialError(f"{source} is not a 32-byte key in hex or base64 (found {len(raw)} bytes)")
    return raw


class KeyProvider(ABC):
    """Wraps and unwraps data keys under one master key."""

    name: str

    @property
    @abstractmethod
    def master_key_id(self) -> str:
        """Names the master key (never reveals it); recorded beside each wrapped key."""

    @abstractmethod
    def wrap(self, key: bytes, context: str) -> bytes:
        """``key`` (32 bytes) encrypted under the master key, bound to ``context``."""

    @abstractmethod
    def unwrap(self, blob: bytes, context: str) -> bytes:
        """The key inside ``blob``; :class:`KeyMaterialError` if it does not open here."""

    def __repr__(self) -> str:  # never print key material
        return f"{type(self).__name__}({self.master_key_id!r})"


class AesGcmProvider(KeyProvider):
    """A provider whose master key is 32 bytes in hand: AES-256-GCM with the context as associated data."""

    def _master(self) -> bytes:
        raise NotImplementedError

    @property
    def master_key_id(self) -> str:
        return f"{self.name}:{hashlib.sha256(b'governance master key id' + self._master()).hexdigest()[:16]}"

    def wrap(self, key: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _MAGIC + nonce + AESGCM(self._master()).encrypt(nonce, check_data_key(key), context.encode("utf-8"))

    def unwrap(self, blob: bytes, context: str) -> bytes:
        blob = bytes(blob)
        if len(blob) < 4 + _NONCE + 16 or blob[:4] != _MAGIC:
            raise KeyMaterialError(f"wrapped key {context} is malformed")
        try:
            return AESGCM(self._master()).decrypt(blob[4:4 + _NONCE], blob[4 + _NONCE:], context.encode("utf-8"))
        except InvalidTag:
            raise KeyMaterialError(
                f"wrapped key {context} does not open under master key {self.master_key_id} (wrong key or tampered)"
            ) from None
