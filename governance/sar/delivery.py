"""Make the package and hand it over: object storage, an expiring link, the key apart.

Files in the package: ``bundle.pdf`` (for people), ``bundle.json`` (the same
content, machine-readable), ``README.txt`` and ``manifest.json`` (SHA-256 of
every other file). The package is encrypted with the request's own AES-256
key and stored as ``sar/<request id>/bundle.enc`` with the manifest beside it in
clear (hashes only) for checking without the key.

The key is made once, when the bundle is built, and kept wrapped by the key
provider in the state database (:mod:`governance.keyprovider`), so the worker
that delivers reads the very key the building worker sealed with; delivery
checks the key's id against the manifest's and refuses a mismatch. The link and
its expiry are kept as ``sar/<request id>/handover.json`` in object storage (no
key in it) and the expiry in ``sar_disclosures``: ``governance sar handover ID``
then writes the two hand-over files on whichever machine it runs.

Handover files: the key (hex) and the link, two separate 0600 files, to be sent
by two different channels. Neither is ever logged or returned to Airflow: only
their paths are. In the embedded default (one machine) delivery writes them under
``<home>/sar/handover/<request id>/`` itself; a deployment writes nothing on a
worker's disk.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from governance.errors import KeyMaterialError
from governance.keyprovider import SharedKeys
from governance.sar.naming import bundle_key_name, handover_dir
from governance.sar.package import encrypt, key_id, manifest_for, zip_files
from governance.sar.pdf import render_pdf
from governance.storage import ObjectStore

__all__ = ["Package", "make_package", "store_package", "write_handover", "handover_dir", "bundle_key", "bundle_key_name", "link_for",
           "disclosure_row", "DEFAULT_LINK_SECONDS", "new_bundle_key", "handed_over_key", "store_link", "stored_link",
           "HANDOVER_OBJECT"]

DEFAULT_LINK_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
_README = """Subject access request {request_id}

bundle.pdf     your records, with a covering letter explaining them
bundle.json    the same content in a machine-readable form
manifest.json  the SHA-256 of each file, to check nothing was altered

Redacted passages show the exemption that applies; the letter explains each one.
"""


@dataclass(frozen=True)
class Package:
    request_id: str
    blob: bytes  # encrypted
    manifest: dict[str, Any]  # the outer manifest (inner files + the encrypted package)
    key_id: str
    files: dict[str, int]  # name -> bytes, for counts


HANDOVER_OBJECT = "handover.json"


def new_bundle_key(keys: SharedKeys, request_id: str) -> bytes:
    """The request's key, made (once: a retried build gets the same key) when its bundle is built."""
    return keys.create(bundle_key_name(request_id))


def bundle_key(keys: SharedKeys, request_id: str) -> bytes:
    """The request's key as stored; an error if the bundle was never built (or the key was shredded)."""
    return keys.data_key(bundle_key_name(request_id))


def handed_over_key(keys: SharedKeys, request_id: str, manifest: dict[str, Any]) -> bytes:
    """The key to hand over, checked against the id the sealed bundle's manifest records."""
    key = bundle_key(keys, request_id)
    expected = manifest.get("package", {}).get("key_id")
    if key_id(key) != expected:
        raise KeyMaterialError(f"request {request_id}: the stored key (id {key_id(key)}) is not the key that sealed "
                               f"the bundle (manifest key id {expected}); nothing was handed over")
    return key


def make_package(document: dict[str, Any], key: bytes, counts: dict[str, Any] | None = None,
                 pack_hash: str | None = None) -> Package:
    request_id = document["request"]["request_id"]
    files = {
        "bundle.pdf": render_pdf(document),
        "bundle.json": json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8"),
        "README.txt": _README.format(request_id=request_id).encode("utf-8"),
    }
    inner = manifest_for(request_id, files, document["request"]["prepared_on"])
    files["manifest.json"] = json.dumps(inner, indent=1, sort_keys=True).encode("utf-8")
    blob = encrypt(zip_files(files), key, request_id)
    outer = dict(inner)
    outer["package"] = {"name": "bundle.enc", "bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest(),
                        "cipher": "AES-256-GCM", "key_id": key_id(key),
                        "manifest_sha256": hashlib.sha256(files["manifest.json"]).hexdigest()}
    outer["counts"] = counts or {}
    outer["review"] = {"pack_hash": pack_hash}  # the approved review pack this bundle was made from
    return Package(request_id, blob, outer, key_id(key), {n: len(d) for n, d in files.items()})


def store_package(objects: ObjectStore, package: Package) -> dict[str, Any]:
    prefix = f"sar/{package.request_id}/"
    info = objects.put(prefix + "bundle.enc", package.blob)
    manifest_bytes = json.dumps(package.manifest, indent=1, sort_keys=True).encode("utf-8")
    manifest_info = objects.put(prefix + "manifest.json", manifest_bytes)
    return {"package_key": info.key, "manifest_key": manifest_info.key, "package_sha256": info.sha256,
            "manifest_sha256": manifest_info.sha256, "package_bytes": info.size}


def _private_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def write_handover(home: Path, request_id: str, *, key: bytes, url: str, expires_at: datetime | None,
                   folder: Path | None = None) -> dict[str, str]:
    """Two 0600 files, to go to the requester by two different channels (in ``folder`` if given)."""
    folder = Path(folder) if folder is not None else handover_dir(home, request_id)
    key_file, link_file = folder / "key.txt", folder / "link.txt"
    texts = handover_texts(request_id, key=key, url=url, expires_at=expires_at)
    _private_write(key_file, texts["key"])
    _private_write(link_file, texts["link"])
    return {"key_file": str(key_file), "link_file": str(link_file)}


def handover_texts(request_id: str, *, key: bytes, url: str, expires_at: datetime | None) -> dict[str, str]:
    """The key and link texts (the same as the files), for a caller that hands them over without writing files."""
    expiry = f"expires {expires_at.isoformat()}" if expires_at else "does not expire (local storage)"
    return {"key": f"Key for subject access request {request_id} (AES-256-GCM, hex):\n{key.hex()}\n",
            "link": f"Encrypted records for subject access request {request_id} ({expiry}):\n{url}\n"}


def store_link(objects: ObjectStore, request_id: str, *, url: str, expires_at: datetime | None,
               package_key_id: str) -> str:
    """Keep the link and its expiry beside the bundle (no key), for a hand-over from any machine."""
    record = {"request_id": request_id, "url": url, "expires_at": expires_at.isoformat() if expires_at else None,
              "key_id": package_key_id}
    return objects.put(f"sar/{request_id}/{HANDOVER_OBJECT}", json.dumps(record, sort_keys=True).encode()).key


def stored_link(objects: ObjectStore, request_id: str) -> dict[str, Any] | None:
    key = f"sar/{request_id}/{HANDOVER_OBJECT}"
    return json.loads(objects.get(key)) if objects.exists(key) else None


def link_for(objects: ObjectStore, key: str, at: datetime, seconds: int = DEFAULT_LINK_SECONDS) -> tuple[str, datetime | None]:
    """(URL, expiry): presigned and expiring on S3; a file:// URI locally."""
    url = objects.url_for(key, seconds)
    return url, (at + timedelta(seconds=seconds)) if objects.uri.startswith("s3://") else None


def disclosure_row(request: dict[str, Any], manifest: dict[str, Any], *, prefix: str, expires: datetime | None,
                   ledger_seq: int, disclosed_on: Any, at: datetime) -> dict[str, Any]:
    """The ``sar_disclosures`` row: the disclosure as a sharing event (ids, hashes, counts)."""
    counts, package = manifest.get("counts", {}), manifest["package"]
    return {
        "request_id": request["request_id"], "store": request["store"],
        "subject_person_id": request["subject_person_id"], "recipient_kind": request["requester_kind"] or "subject",
        "package_key": prefix + "bundle.enc", "manifest_key": prefix + "manifest.json",
        "package_sha256": package["sha256"], "manifest_sha256": package["manifest_sha256"], "key_id": package["key_id"],
        "records_included": int(counts.get("records", 0)), "records_withheld": int(counts.get("withheld_in_full", 0)),
        "redactions": int(counts.get("redactions", 0)), "url_expires_at": expires, "ledger_seq": ledger_seq,
        "disclosed_on": disclosed_on, "disclosed_at": at,
    }
