"""Bookkeeping of every object and local copy the research capability makes, and their removal.

Destruction is only provable if everything made is known. Every object is
recorded in ``research_objects`` *before* it is put (so a crash between the put
and the bookkeeping still leaves its key known), and every local file in
``research_copies`` as soon as it is written. Removal deletes every version of
each recorded object (``ObjectStore.delete``), sweeps the extract's prefix for
anything unrecorded, deletes each recorded local file, and notes per row what
was removed, so that a retried end of study still reports the true totals.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Callable, Sequence

import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.errors import ResearchError
from governance.state import state_engine
from governance.storage import ObjectInfo, ObjectStore
from governance.stores.seeding import open_objects

__all__ = ["ObjectLog", "delete_recorded", "remove_extract_objects", "remove_local_copies", "remaining_versions"]


class ObjectLog:
    """Records one extract's objects as they are written."""

    def __init__(self, engine: sa.Engine, study_id: str, extract_id: str | None, as_of: date) -> None:
        self._engine, self._study, self._extract, self._as_of = engine, study_id, extract_id, as_of

    def recorder(self, kind: str, wrapped_key: bytes | None = None) -> Callable[[str, ObjectInfo | None], None]:
        """``record(key, None)`` before a put, ``record(key, info)`` after it."""

        def record(key: str, info: ObjectInfo | None) -> None:
            with self._engine.begin() as conn:
                if info is None:
                    conn.execute(t.objects.insert().values(study_id=self._study, extract_id=self._extract, kind=kind,
                                                           object_key=key, created_on=self._as_of,
                                                           wrapped_key=wrapped_key))
                else:
                    conn.execute(t.objects.update().where(t.objects.c.study_id == self._study,
                                                          t.objects.c.object_key == key,
                                                          t.objects.c.deleted_on.is_(None))
                                 .values(size=info.size, sha256=info.sha256))

        return record


def delete_recorded(engine: sa.Engine, objects: ObjectStore, rows: Sequence, as_of: date) -> dict[str, int]:
    """Delete every version of each recorded object (rows with ``id``, ``object_key``), then mark its row."""
    deleted = versions = 0
    for row in rows:
        removed = objects.delete(row.object_key)
        with engine.begin() as conn:
            conn.execute(t.objects.update().where(t.objects.c.id == row.id)
                         .values(deleted_on=as_of, versions_removed=removed))
        deleted += 1
        versions += removed
    return {"objects_deleted": deleted, "versions_removed": versions}


def remove_extract_objects(settings: Settings, study_id: str, extract_id: str, *, as_of: date,
                           kinds: Sequence[str] = ("part", "table")) -> dict[str, int]:
    """Delete every version of every object of ``extract_id`` (recorded or under its prefix)."""
    engine, objects = state_engine(settings), open_objects(settings)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.objects.c.id, t.objects.c.object_key).where(
            t.objects.c.extract_id == extract_id, t.objects.c.kind.in_(kinds), t.objects.c.deleted_on.is_(None))
            .order_by(t.objects.c.id)).all()
    counts = delete_recorded(engine, objects, rows, as_of)
    # Anything under the prefix the bookkeeping does not know (it should be empty).
    stray = 0
    for key in list(objects.list(f"research/{study_id}/{extract_id}/")):
        counts["versions_removed"] += objects.delete(key)
        stray += 1
    counts["objects_deleted"] += stray
    return counts


def remove_local_copies(settings: Settings, study_id: str, *, as_of: date) -> dict[str, int]:
    """Delete every recorded local copy of the study's extracts; count those found and already gone."""
    engine = state_engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.copies.c.id, t.copies.c.path).where(
            t.copies.c.study_id == study_id, t.copies.c.removed_on.is_(None))).all()
    removed = missing = 0
    for row in rows:
        path = Path(row.path)
        try:
            path.unlink()
            present = True
        except FileNotFoundError:
            present = False
        except OSError as exc:
            raise ResearchError(f"study {study_id}: cannot delete local copy {path} ({type(exc).__name__})") from None
        with engine.begin() as conn:
            conn.execute(t.copies.update().where(t.copies.c.id == row.id).values(removed_on=as_of, was_present=present))
        removed += present
        missing += not present
    return {"copies_deleted": removed, "copies_already_gone": missing}


def remaining_versions(settings: Settings, study_id: str, kinds: Sequence[str] = ("part", "table")) -> dict[str, int]:
    """Object keys of the study (of ``kinds``) that still have any version: what must be empty after destroy."""
    objects = open_objects(settings)
    with state_engine(settings).connect() as conn:
        keys = conn.execute(sa.select(t.objects.c.object_key).where(
            t.objects.c.study_id == study_id, t.objects.c.kind.in_(kinds))).scalars().all()
    left = {key: len(objects.versions(key)) for key in keys}
    return {key: n for key, n in left.items() if n}
