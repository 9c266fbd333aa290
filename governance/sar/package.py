"""The delivered package: files, a manifest of their SHA-256, a zip, AES-256-GCM.

``bundle.enc`` is ``header || nonce || ciphertext+tag``. The header is a magic
string, a format version and the request id; it is authenticated as associated
data, so a package cannot be passed off as another request's. The key is 32
random bytes handed over separately from the package (never logged); its id is
the first 16 hex characters of its SHA-256, which is safe to record.

The zip is written with fixed timestamps and order, so the same content gives
the same bytes; only the nonce differs between encryptions.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import KeyMaterialError, StorageError

__all__ = ["MAGIC", "key_id", "manifest_for", "verify_manifest", "zip_files", "unzip_files", "encrypt", "decrypt",
           "open_package"]

MAGIC = b"GOVSAR"
_VERSION = 1
_NONCE = 12
_EPOCH = (1980, 1, 1, 0, 0, 0)


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def manifest_for(request_id: str, files: dict[str, bytes], prepared_on: str) -> dict[str, Any]:
    return {
        "format": "governance-sar-manifest/1",
        "request_id": request_id,
        "prepared_on": prepared_on,
        "files": [{"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in sorted(files.items())],
    }


def verify_manifest(manifest: dict[str, Any], files: dict[str, bytes]) -> list[str]:
    """Problems found (empty when every listed file is present with its size and hash)."""
    problems = []
    for entry in manifest.get("files", []):
        data = files.get(entry["name"])
        if data is None:
            problems.append(f"{entry['name']}: missing")
        elif len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            problems.append(f"{entry['name']}: SHA-256 does not match the manifest")
    return problems


def zip_files(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()


def unzip_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _header(request_id: str) -> bytes:
    rid = request_id.encode("ascii")
    return MAGIC + bytes([_VERSION, len(rid)]) + rid


def encrypt(plaintext: bytes, key: bytes, request_id: str) -> bytes:
    if len(key) != 32:
        raise KeyMaterialError("a bundle key must be 32 bytes (AES-256)")
    header = _header(request_id)
    nonce = os.urandom(_NONCE)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header)


def decrypt(blob: bytes, key: bytes) -> tuple[str, bytes]:
    """(request id, plaintext); raises if the key is wrong or the package was altered."""
    if len(blob) < len(MAGIC) + 2 or not blob.startswith(MAGIC) or blob[len(MAGIC)] != _VERSION:
        raise StorageError("not a subject-access package (bad header)")
    size = blob[len(MAGIC) + 1]
    end = len(MAGIC) + 2 + size
    header, nonce, body = blob[:end], blob[end:end + _NONCE], blob[end + _NONCE:]
    try:
        plaintext = AESGCM(key).decrypt(nonce, body, header)
    except (InvalidTag, ValueError):
        raise KeyMaterialError("the package does not decrypt with this key (wrong key or altered package)") from None
    return header[len(MAGIC) + 2:].decode("ascii"), plaintext


def open_package(blob: bytes, key: bytes) -> tuple[dict[str, bytes], dict[str, Any], list[str]]:
    """Decrypt and unzip a package; return (files, its manifest, problems verifying it)."""
    request_id, plaintext = decrypt(blob, key)
    files = unzip_files(plaintext)
    manifest = json.loads(files.get("manifest.json", b"{}"))
    problems = verify_manifest(manifest, files)
    if manifest.get("request_id") != request_id:
        problems.append("manifest names another request than the package header")
    return files, manifest, problems
