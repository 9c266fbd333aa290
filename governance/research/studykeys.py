"""The per-study key: created on first use, wrapped by the key manager, crypto-shredded at the end.

One random 32-byte key per study. Two working keys are derived from it with
HKDF-SHA256 under distinct labels, so no key is used for two purposes:

- the **pseudonym key**: HMAC-SHA256 of identifiers (:mod:`governance.research.pseudonym`);
- the **wrapping key**: AES-256-GCM over each extract's own data key.

Destroying the study key therefore makes every pseudonym unrecomputable and
every extract part unreadable at once, whatever copies of the ciphertext
survive (NIST SP 800-88 cryptographic erase).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from governance.config import Settings
from governance.research import tables as t
from governance.research.errors import ExtractUnreadable, KeyDestroyed
from governance.research.kms import open_kms

__all__ = ["StudyKey", "derive", "ensure_study_key", "load_study_key", "destroy_study_key", "new_data_key",
           "wrap_data_key", "unwrap_data_key"]

_PSEUDONYM_INFO = b"governance research pseudonym v1"
_WRAPPING_INFO = b"governance research data-key wrap v1"
_NONCE = 12


@dataclass(frozen=True)
class StudyKey:
    """The working keys of one study; ``key_id`` is safe to record, the rest never leaves memory."""

    key_id: str
    pseudonym_key: bytes
    wrapping_key: bytes

    def __repr__(self) -> str:  # never print key material
        return f"StudyKey({self.key_id!r})"


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def derive(key_id: str, study_key: bytes) -> StudyKey:
    return StudyKey(key_id, _hkdf(study_key, _PSEUDONYM_INFO), _hkdf(study_key, _WRAPPING_INFO))


def ensure_study_key(conn: sa.Connection, settings: Settings, study_id: str, as_of: date, kms: str = "local") -> StudyKey:
    """The study's key, created (and its wrapped form stored) if it has none yet."""
    row = conn.execute(sa.select(t.studies.c.key_id, t.studies.c.key_destroyed_on)
                       .where(t.studies.c.study_id == study_id)).one()
    if row.key_destroyed_on is not None:
        raise KeyDestroyed(f"study {study_id}: key {row.key_id} was destroyed on {row.key_destroyed_on}")
    if row.key_id is not None:
        return load_study_key(conn, settings, study_id)
    manager = open_kms(settings, kms, conn)
    study_key = os.urandom(32)
    blob = manager.wrap(study_key)
    key_id = manager.key_id(blob)
    conn.execute(t.keys.insert().values(key_id=key_id, study_id=study_id, kms=manager.name, wrapped=blob,
                                        created_on=as_of))
    conn.execute(t.studies.update().where(t.studies.c.study_id == study_id).values(key_id=key_id))
    return derive(key_id, study_key)


def load_study_key(conn: sa.Connection, settings: Settings, study_id: str) -> StudyKey:
    """The study's working keys; :class:`KeyDestroyed` once the key is gone."""
    row = conn.execute(sa.select(t.keys.c.key_id, t.keys.c.kms, t.keys.c.wrapped)
                       .where(t.keys.c.study_id == study_id)).first()
    if row is None:
        raise KeyDestroyed(f"study {study_id}: no key (never created, or destroyed)")
    return derive(row.key_id, open_kms(settings, row.kms, conn).unwrap(row.wrapped))


def destroy_study_key(conn: sa.Connection, settings: Settings, study_id: str, as_of: date) -> str | None:
    """Crypto-shred the study key: the key manager forgets it and the wrapped copy is deleted.

    Returns the key id, or None if the study never had a key. Idempotent.
    """
    study = conn.execute(sa.select(t.studies.c.key_id).where(t.studies.c.study_id == study_id)).one()
    row = conn.execute(sa.select(t.keys.c.key_id, t.keys.c.kms).where(t.keys.c.study_id == study_id)).first()
    if row is not None:
        open_kms(settings, row.kms, conn).destroy(row.key_id)
        conn.execute(t.keys.delete().where(t.keys.c.study_id == study_id))
    if study.key_id is not None:
        conn.execute(t.studies.update().where(t.studies.c.study_id == study_id, t.studies.c.key_destroyed_on.is_(None))
                     .values(key_destroyed_on=as_of))
    return study.key_id


def new_data_key() -> bytes:
    return os.urandom(32)


def wrap_data_key(key: StudyKey, data_key: bytes, label: str) -> bytes:
    """``data_key`` under the study's wrapping key, bound to ``label`` (the extract id)."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key.wrapping_key).encrypt(nonce, data_key, label.encode("utf-8"))


def unwrap_data_key(key: StudyKey, blob: bytes, label: str) -> bytes:
    try:
        return AESGCM(key.wrapping_key).decrypt(bytes(blob[:_NONCE]), bytes(blob[_NONCE:]), label.encode("utf-8"))
    except InvalidTag:
        raise ExtractUnreadable(f"data key of {label} does not open under key {key.key_id}") from None
