"""Encrypted Parquet in object storage, written and read in bounded parts.

An extract is stored as one or more *parts*: each a complete Parquet file
(zstd, one row group per batch) of at most about ``part_bytes``, sealed with
AES-256-GCM under the extract's data key and put as one object::

    object = b"GVRP1" || nonce (12 bytes) || AES-GCM(data key, nonce, parquet, aad = object key)

Why parts rather than one file: the object storage interface puts whole
objects, and AES-GCM in ``cryptography`` is one-shot, so a single object would
hold the whole extract in memory twice. Parts bound memory by ``part_bytes``
whatever the extract's size, and each part stands alone (readable, and
verifiable by its SHA-256, without the others). Binding the object key as
associated data means a part cannot be moved or swapped without detection.

Nothing is written to local disk on the way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.research.errors import ExtractUnreadable
from governance.storage import ObjectInfo, ObjectStore

__all__ = ["PartWriter", "seal", "unseal", "read_part", "parquet_bytes", "part_position", "rewritten_key",
           "DEFAULT_PART_BYTES", "MAGIC"]

MAGIC = b"GVRP1"
_NONCE = 12
#: Roll over to a new part after this many bytes of Parquet (before encryption).
DEFAULT_PART_BYTES = 64 * 1024 * 1024
#: ``.../part-00003.parquet.enc`` as written; ``.../part-00003-r2.parquet.enc`` after two rewrites.
_PART_KEY = re.compile(r"^(?P<stem>.*/part-(?P<number>\d+))(?:-r(?P<rewrite>\d+))?\.parquet\.enc$")


def _part_key(object_key: str) -> re.Match[str]:
    match = _PART_KEY.match(object_key)
    if match is None:
        raise ExtractUnreadable(f"object {object_key} is not named as an extract part")
    return match


def part_position(object_key: str) -> tuple[int, int]:
    """(part number, rewrite) of a part: rows are read in this order, the order they were written in.

    Rows are grouped by person across parts (disclosure counting relies on it), so a
    rewritten part must be read where the original was, not where its new record sorts.
    """
    match = _part_key(object_key)
    return int(match["number"]), int(match["rewrite"] or 0)


def rewritten_key(object_key: str) -> str:
    """The key a rewrite of this part is stored under (a new object, never the old key)."""
    match = _part_key(object_key)
    return f"{match['stem']}-r{int(match['rewrite'] or 0) + 1}.parquet.enc"


def seal(data_key: bytes, plain: bytes | memoryview, object_key: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return MAGIC + nonce + AESGCM(data_key).encrypt(nonce, plain, object_key.encode("utf-8"))


def unseal(data_key: bytes, blob: bytes, object_key: str) -> bytes:
    head = len(MAGIC)
    if blob[:head] != MAGIC:
        raise ExtractUnreadable(f"object {object_key} is not an encrypted extract part")
    try:
        return AESGCM(data_key).decrypt(blob[head:head + _NONCE], blob[head + _NONCE:], object_key.encode("utf-8"))
    except InvalidTag:
        raise ExtractUnreadable(f"object {object_key} does not decrypt (wrong key, tampered or moved)") from None


def parquet_bytes(table: pa.Table) -> bytes:
    """A small table as Parquet bytes (aggregate tables, anonymised outputs)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def read_part(blob_plain: bytes, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    return pq.ParquetFile(pa.BufferReader(blob_plain)).iter_batches(batch_size=batch_rows)


@dataclass
class PartWriter:
    """Write batches as sealed Parquet parts under ``prefix`` (``part-00000.parquet.enc``, ...).

    ``record(key, info)`` is called with ``info=None`` *before* each put (so a
    crash between put and bookkeeping still leaves the key known for clean-up)
    and again with the :class:`ObjectInfo` after it.
    """

    objects: ObjectStore
    prefix: str
    data_key: bytes
    schema: pa.Schema
    record: Callable[[str, ObjectInfo | None], None]
    part_bytes: int = DEFAULT_PART_BYTES

    def __post_init__(self) -> None:
        self.keys: list[str] = []
        self._sink: pa.BufferOutputStream | None = None
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._sink = pa.BufferOutputStream()
            self._writer = pq.ParquetWriter(self._sink, self.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=table.num_rows)
        if self._sink.tell() >= self.part_bytes:
            self._flush()

    def _flush(self) -> None:
        assert self._writer is not None and self._sink is not None
        self._writer.close()
        plain = self._sink.getvalue()
        self._writer = self._sink = None
        key = f"{self.prefix}/part-{len(self.keys):05d}.parquet.enc"
        self.record(key, None)
        sealed = seal(self.data_key, memoryview(plain).cast("B"), key)  # no copy of the part
        del plain
        info = self.objects.put(key, sealed)
        self.keys.append(key)
        self.record(key, info)

    def close(self) -> list[str]:
        """Flush the last part; return every part's key in order."""
        if self._writer is not None:
            self._flush()
        return self.keys
