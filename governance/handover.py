"""Reading what was handed over, wherever it is: a path, ``file://``, ``s3://`` or an HTTPS link.

A hand-over is made on one machine (an Airflow worker) and opened on another
(records management's desk). So ``governance sar open`` and the jobs that take
an object URI out of XCom read through here instead of assuming a local file.
Errors name the scheme and the key, never the whole URI (a presigned link is a
credential).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from governance.errors import ConfigError, StorageError

__all__ = ["read_uri"]

_TIMEOUT = 60


def read_uri(uri: str, *, s3_endpoint_url: str | None = None) -> bytes:
    """The bytes at ``uri``: a local path, ``file:///abs``, ``s3://bucket/key`` or an ``https://`` (presigned) link."""
    text = str(uri).strip()
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("", "file"):
        path = Path(unquote(parts.path)) if scheme == "file" else Path(text)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {path} ({type(exc).__name__})") from None
    if scheme == "s3":
        from governance.storage import S3ObjectStore

        key = parts.path.lstrip("/")
        if not parts.netloc or not key:
            raise ConfigError("an s3:// URI must name a bucket and a key (s3://bucket/key)")
        return S3ObjectStore(parts.netloc, "", endpoint_url=s3_endpoint_url).get(unquote(key))
    if scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(text, timeout=_TIMEOUT) as response:  # noqa: S310 - scheme checked above
                return response.read()
        except urllib.error.HTTPError as exc:
            raise StorageError(f"the {scheme} link answered {exc.code} (expired, or not this package?)") from None
        except (urllib.error.URLError, OSError) as exc:
            raise StorageError(f"the {scheme} link could not be read ({type(exc).__name__})") from None
    raise ConfigError(f"cannot read a {scheme}:// URI: use a path, file://, s3:// or an https link")
