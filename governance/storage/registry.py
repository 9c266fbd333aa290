"""Pick the object storage backend from a URL, as configured in ``GOVERNANCE_OBJECTS_URL``.

``file:///abs/folder`` (or a plain absolute path) is a local folder;
``s3://bucket/optional/prefix`` is S3, optionally at an S3-compatible endpoint.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from governance.errors import ConfigError
from governance.storage.base import ObjectStore
from governance.storage.local import LocalFolderStore
from governance.storage.s3 import S3ObjectStore

__all__ = ["open_object_store"]


def open_object_store(url: str, *, s3_endpoint_url: str | None = None) -> ObjectStore:
    """The object store named by ``url``. Nothing is contacted or created until first use.

    Raises :class:`ConfigError` for an empty URL, a relative path, or a scheme
    other than ``file`` and ``s3``. Messages name the scheme, never the whole
    URL, which could carry a secret.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigError("object storage URL is empty (set GOVERNANCE_OBJECTS_URL)")
    url = url.strip()
    if url.startswith("/"):
        return LocalFolderStore(Path(url))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"file:// object storage URL names host {parts.hostname!r}: only local folders are supported")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise ConfigError("file:// object storage URL must name an absolute folder (file:///abs/folder)")
        return LocalFolderStore(Path(path))
    if scheme == "s3":
        return S3ObjectStore.from_url(url, endpoint_url=s3_endpoint_url)
    if not scheme:
        raise ConfigError("object storage URL is neither an absolute folder path nor a file:// or s3:// URL")
    raise ConfigError(f"object storage URL scheme {scheme!r} is not supported (use file:// or s3://)")
