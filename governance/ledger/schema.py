"""The ledger's tables (SQLAlchemy Core, own MetaData), record types, migrations,
and the rules for what an entry may hold.

Tables are created and upgraded only by the Alembic scripts in
``governance/ledger/migrations`` (its own version table, so the ledger can share
a database with a case store that has its own migrations). These definitions
mirror the migrations for queries; a test checks they agree.

JSON columns are ``TEXT`` holding canonical JSON exactly as hashed, and times
are ISO-8601 strings, so every database returns the bytes that were hashed.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from governance.db import at_revision, upgrade_to_head
from governance.errors import LedgerError
from governance.ledger.canonical import (
    TREE_HEAD_KEYS, canonical_unchecked, check_canonical, tree_head_hash, tree_head_payload,
)

__all__ = [
    "metadata",
    "entries_table",
    "checkpoints_table",
    "keys_table",
    "nodes_table",
    "lock_table",
    "DERIVED_COLUMNS",
    "CHECKPOINT_COLUMNS",
    "VERSION_TABLE",
    "HEAD_REVISION",
    "SAME_FORMAT_REVISION",
    "ENTRY_COLUMNS",
    "LedgerEntry",
    "Checkpoint",
    "upgrade",
    "utc_stamp",
    "prepare_event",
    "DETAIL_MAX",
]

VERSION_TABLE = "ledger_alembic_version"
HEAD_REVISION = "0003_action_index"
# An earlier revision with the same entries and tree heads: a read-only copy at it still verifies.
SAME_FORMAT_REVISION = "0002_sealed_tree"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# INTEGER PRIMARY KEY on SQLite makes seq the rowid: seq order is table order.
SEQ_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData()


def _derived(name: str, kind: Any) -> sa.Column:
    # GENERATED from body by the migration (dialect-specific expression); the
    # Computed marker keeps these columns out of every INSERT.
    return sa.Column(name, kind, sa.Computed(f"body -> {name}"))


entries_table = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("seq", SEQ_TYPE, primary_key=True, autoincrement=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    _derived("entry_id", sa.String(36)),
    _derived("recorded_at", sa.String(32)),
    _derived("actor", sa.String(128)),
    _derived("action", sa.String(128)),
    _derived("reason", sa.Text()),
    _derived("rule", sa.String(128)),
    _derived("store", sa.String(64)),
    _derived("record_ids", sa.Text()),
    _derived("counts", sa.Text()),
    _derived("details", sa.Text()),
    sa.Index("ix_ledger_entries_action_seq", "action", "seq"),  # one kind of entry, in order (0003)
)
DERIVED_COLUMNS = ("entry_id", "recorded_at", "actor", "action", "reason", "rule", "store",
                   "record_ids", "counts", "details")

checkpoints_table = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("size", SEQ_TYPE, primary_key=True, autoincrement=False),
    sa.Column("root", sa.String(64), nullable=False),
    sa.Column("head", sa.String(64), nullable=False),
    sa.Column("prev", sa.String(64), nullable=False),
    sa.Column("keys", sa.Text(), nullable=False),
    sa.Column("signed_at", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("frontier", sa.Text(), nullable=False),
)

keys_table = sa.Table(
    "ledger_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False, unique=True),
    sa.Column("public_key_pem", sa.Text(), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)

nodes_table = sa.Table(
    "ledger_nodes",
    metadata,
    sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row; appenders on SQLite update it first to take the write lock before
# reading the head, even inside a caller's deferred transaction.
lock_table = sa.Table(
    "ledger_lock",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("counter", sa.BigInteger(), nullable=False),
)

# Column order of entry values as prepare_event returns them and entry_body_text reads them.
ENTRY_COLUMNS = (
    "seq", "entry_id", "recorded_at", "actor", "action", "reason", "rule", "store",
    "record_ids", "counts", "details", "prev_hash", "entry_hash",
)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger entry: identifiers and counts, never record content."""

    seq: int
    entry_id: str
    recorded_at: str
    actor: str
    action: str
    reason: str | None
    rule: str | None
    store: str | None
    record_ids: tuple[str, ...]
    counts: dict[str, int] = field(hash=False)
    details: dict[str, Any] = field(hash=False)
    prev_hash: str
    entry_hash: str

    @classmethod
    def from_body(cls, body: str, prev_hash: str, entry_hash: str) -> "LedgerEntry":
        """From the stored canonical body text and the chain hashes."""
        data = json.loads(body)
        return cls(
            data["seq"], data["entry_id"], data["recorded_at"], data["actor"], data["action"], data["reason"],
            data["rule"], data["store"], tuple(data["record_ids"]), data["counts"], data["details"],
            prev_hash, entry_hash,
        )

    def body(self) -> dict[str, Any]:
        """The hashed part: every field but ``prev_hash`` and ``entry_hash``."""
        return {
            "action": self.action, "actor": self.actor, "counts": dict(self.counts),
            "details": dict(self.details), "entry_id": self.entry_id, "reason": self.reason,
            "record_ids": list(self.record_ids), "recorded_at": self.recorded_at,
            "rule": self.rule, "seq": self.seq, "store": self.store,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field, as written to ``entries.jsonl`` in a bundle."""
        return {**self.body(), "prev_hash": self.prev_hash, "entry_hash": self.entry_hash}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: the ledger key's signature over the tree of the first ``size`` entries.

    ``head`` is the entry hash of entry ``size``, ``prev`` the hash of the previous
    tree head (:func:`~governance.ledger.canonical.tree_head_hash`; 64 zeros for the
    first) and ``keys`` the ids of every registered signing key in registration
    order, so removing a tree head or a key breaks what a later head signed.
    ``frontier`` is not signed: it is checked against ``root`` before use.
    """

    size: int
    root: str
    head: str
    prev: str
    keys: tuple[str, ...]
    signed_at: str
    key_id: str
    signature: str
    frontier: tuple[str, ...] = field(default=(), compare=False)

    @property
    def seq(self) -> int:
        return self.size

    def payload(self) -> bytes:
        """The signed bytes: canonical JSON of every field but signature and frontier."""
        return tree_head_payload(self.size, self.root, self.head, self.prev, self.keys, self.signed_at, self.key_id)

    def signed(self) -> dict[str, Any]:
        """The tree head as published (witness, bundle, receipt): signed fields and the signature."""
        return {"size": self.size, "root": self.root, "head": self.head, "prev": self.prev,
                "keys": list(self.keys), "signed_at": self.signed_at, "key_id": self.key_id,
                "signature": self.signature}

    def hash(self) -> str:
        """What the next tree head's ``prev`` names."""
        return tree_head_hash(self.signed())

    @classmethod
    def from_signed(cls, data: Mapping[str, Any], frontier: Iterable[str] = ()) -> "Checkpoint":
        if type(data) is not dict or set(data) != TREE_HEAD_KEYS:
            raise LedgerError("not a signed tree head")
        keys = data["keys"]
        if type(keys) is not list or not all(type(k) is str for k in keys):
            raise LedgerError("not a signed tree head")
        if type(data["size"]) is not int or not all(
                type(data[k]) is str for k in ("root", "head", "prev", "signed_at", "key_id", "signature")):
            raise LedgerError("not a signed tree head")
        return cls(data["size"], data["root"], data["head"], data["prev"], tuple(keys), data["signed_at"],
                   data["key_id"], data["signature"], tuple(frontier))

    def to_row(self) -> dict[str, Any]:
        return {**self.signed(), "keys": canonical_unchecked(list(self.keys)),
                "frontier": canonical_unchecked(list(self.frontier))}

    @classmethod
    def from_row(cls, row: Any) -> "Checkpoint":
        size, root, head, prev, keys, signed_at, key_id, signature, frontier = row
        return cls(size, root, head, prev, tuple(json.loads(keys)), signed_at, key_id, signature,
                   tuple(json.loads(frontier)))


CHECKPOINT_COLUMNS = ("size", "root", "head", "prev", "keys", "signed_at", "key_id", "signature", "frontier")


def upgrade(connection: sa.Connection) -> None:
    """Run the ledger migrations to head on ``connection`` inside its transaction.

    The caller holds a lock (advisory lock on PostgreSQL, an immediate
    transaction on SQLite) so concurrent openers run this one at a time; the
    second finds the schema at head and does nothing.
    """
    if not at_revision(connection, VERSION_TABLE, HEAD_REVISION):
        upgrade_to_head(connection, MIGRATIONS_DIR)


# -- what an entry may hold ------------------------------------------------------

_RECORD_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # \t \n \r allowed in a reason
DETAIL_MAX = 512
_INT_MAX = 2**63 - 1
_EVENT_KEYS = frozenset({"actor", "action", "reason", "rule", "store", "record_ids", "counts", "details", "as_of"})


def utc_stamp(moment: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; naive datetimes are refused."""
    moment = datetime.now(timezone.utc) if moment is None else moment
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise LedgerError("as_of must be a timezone-aware datetime (for example datetime.now(timezone.utc))")
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _text(value: Any, name: str, limit: int, *, optional: bool = False, multiline: bool = False) -> str | None:
    # Messages name the field and the rule, never the value: it might be content.
    if value is None and optional:
        return None
    if type(value) is not str or not value.strip():
        raise LedgerError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise LedgerError(f"{name} is longer than {limit} characters")
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        raise LedgerError(f"{name} contains control characters")
    check_canonical(value, name)
    return value


def _scalar(value: Any, name: str) -> Any:
    if value is None or type(value) in (bool, int):
        check_canonical(value, name)
        return value
    if type(value) is str:
        if len(value) > DETAIL_MAX:
            raise LedgerError(f"{name} is longer than {DETAIL_MAX} characters: details hold identifiers, not content")
        if _CONTROL.search(value):
            raise LedgerError(f"{name} contains control characters")
        check_canonical(value, name)
        return value
    raise LedgerError(f"{name} must be a str, int, bool or None (got {type(value).__name__})")


def prepare_event(item: Mapping[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Validate one event; return (stored values in ``ENTRY_COLUMNS[1:11]`` order,
    (record_ids, counts, details) as Python values).

    The ledger cannot tell an identifier from a name, but it refuses what is
    plainly not an identifier: record ids outside ``[A-Za-z0-9._:/-]{1,128}``,
    detail strings over 512 characters, nested structures, floats.
    """
    unknown = set(item) - _EVENT_KEYS
    if unknown:
        raise LedgerError(f"unknown ledger event field(s): {', '.join(sorted(map(str, unknown)))}")
    record_ids = item.get("record_ids") or ()
    if isinstance(record_ids, (str, bytes)) or not isinstance(record_ids, Iterable):
        raise LedgerError("record_ids must be a sequence of identifiers (not a single string)")
    ids = list(record_ids)
    for index, record_id in enumerate(ids):
        if type(record_id) is not str or not _RECORD_ID.match(record_id):
            raise LedgerError(f"record_ids[{index}] does not look like an identifier ([A-Za-z0-9._:/-], 1-128 chars)")
    counts = item.get("counts") or {}
    if not isinstance(counts, Mapping):
        raise LedgerError("counts must be a mapping of name -> int")
    for key, value in counts.items():
        if type(key) is not str or not _KEY.match(key):
            raise LedgerError("counts keys must be short identifiers ([A-Za-z0-9._:-], 1-64 chars)")
        if type(value) is not int or not 0 <= value <= _INT_MAX:
            raise LedgerError(f"counts[{key}] must be a non-negative 64-bit int")
    details = item.get("details") or {}
    if not isinstance(details, Mapping):
        raise LedgerError("details must be a mapping of name -> small scalar")
    clean: dict[str, Any] = {}
    for key, value in details.items():
        if type(key) is not str or not _KEY.match(key):
            raise LedgerError("details keys must be short identifiers ([A-Za-z0-9._:-], 1-64 chars)")
        if isinstance(value, (list, tuple)):
            clean[key] = [_scalar(v, f"details[{key}][{i}]") for i, v in enumerate(value)]
        else:
            clean[key] = _scalar(value, f"details[{key}]")
    counts = dict(counts)
    values = (
        str(uuid.uuid4()),
        utc_stamp(item.get("as_of")),
        _text(item.get("actor"), "actor", 128),
        _text(item.get("action"), "action", 128),
        _text(item.get("reason"), "reason", DETAIL_MAX, optional=True, multiline=True),
        _text(item.get("rule"), "rule", 128, optional=True),
        _text(item.get("store"), "store", 64, optional=True),
        # Everything was checked above, so skip canonical()'s second walk.
        canonical_unchecked(ids),
        canonical_unchecked(counts),
        canonical_unchecked(clean),
    )
    return values, (tuple(ids), counts, clean)
