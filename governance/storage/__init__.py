"""Object storage behind one small interface: a local folder or S3.

>>> store = open_object_store("file:///srv/governance/objects")   # doctest: +SKIP
>>> info = store.put("cases/C000123/doc-1.pdf", pdf_bytes)         # doctest: +SKIP

See ``docs/storage.md`` for the contract both backends keep and where they differ.
"""

from governance.storage.base import ObjectInfo, ObjectStore
from governance.storage.local import LocalFolderStore
from governance.storage.registry import open_object_store
from governance.storage.s3 import S3ObjectStore

__all__ = ["ObjectStore", "ObjectInfo", "open_object_store", "LocalFolderStore", "S3ObjectStore"]
