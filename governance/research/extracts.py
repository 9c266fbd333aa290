"""Building, reading and exporting a study's extract.

:func:`build_extract` streams the study's population out of its case store,
pseudonymises and generalises each batch, writes it as encrypted Parquet parts
to object storage and feeds it to the disclosure check, all in one pass with
memory bounded by the batch and part sizes. Then, in one transaction with its
ledger entry, the extract is either **released** (k and l hold) or
**withheld**: its parts are deleted (every version) and the report names the
failing classes by ordinal and counts.

Safe to retry: a released extract is returned as it is; a build that died
part-way (status ``building``) is cleaned up (its objects deleted, every
version) and started again under a new extract id.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.errors import ExtractUnreadable, StudyStateError
from governance.research.parts import (DEFAULT_PART_BYTES, PartWriter, parquet_bytes, part_position, read_part, seal,
                                       unseal)
from governance.research.pipeline import PERSON_COLUMN, ExtractPipeline
from governance.research.pseudonym import Pseudonymiser
from governance.research.recording import RULE, recorded
from governance.research.source import stream_population
from governance.research.storekeeping import ObjectLog, remove_extract_objects
from governance.research.studies import get_study
from governance.research.studykeys import ensure_study_key, load_study_key, new_data_key, unwrap_data_key, wrap_data_key
from governance.state import state_engine
from governance.storage.base import sha256_hex
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore

__all__ = ["build_extract", "read_extract", "export_extract", "released_extract", "RELEASED_ACTION",
           "WITHHELD_ACTION", "EXPORTED_ACTION", "DEFAULT_BATCH_ROWS"]

RELEASED_ACTION = "research.extract_released"
WITHHELD_ACTION = "research.extract_withheld"
EXPORTED_ACTION = "research.extract_exported"
ABANDONED_ACTION = "research.extract_abandoned"
DEFAULT_BATCH_ROWS = 50_000


def released_extract(conn: sa.Connection, study_id: str) -> Any | None:
    return conn.execute(sa.select(t.extracts).where(t.extracts.c.study_id == study_id,
                                                    t.extracts.c.status == "released")).first()


def _summary(row: Any, **extra: Any) -> dict[str, Any]:
    report = json.loads(row.report_json) if row.report_json else {}
    return {"study_id": row.study_id, "extract_id": row.extract_id, "status": row.status, "rows": row.rows or 0,
            "persons": row.persons or 0, "parts": row.parts or 0, "classes": report.get("classes", 0),
            "k_failing_classes": report.get("k_failing_classes", 0),
            "l_failing_classes": sum(report.get("l_failing_classes", {}).values()), **extra}


def _abandon_stale(settings: Settings, study_id: str, *, actor: str, as_of: date) -> None:
    with state_engine(settings).connect() as conn:
        stale = conn.execute(sa.select(t.extracts.c.extract_id).where(
            t.extracts.c.study_id == study_id, t.extracts.c.status == "building")).scalars().all()
    for extract_id in stale:
        removed = remove_extract_objects(settings, study_id, extract_id, as_of=as_of)
        with recorded(settings) as rec:
            rec.conn.execute(t.members.delete().where(t.members.c.extract_id == extract_id))
            rec.conn.execute(t.extracts.update().where(t.extracts.c.extract_id == extract_id)
                             .values(status="abandoned", wrapped_data_key=None, destroyed_on=as_of))
            rec.append(actor=actor, action=ABANDONED_ACTION, rule=RULE, record_ids=[study_id, extract_id],
                       reason="an interrupted build was cleaned up before building again", counts=removed,
                       details={"study_id": study_id, "extract_id": extract_id})


def build_extract(settings: Settings, study_id: str, *, as_of: date, actor: str, batch_rows: int = DEFAULT_BATCH_ROWS,
                  part_bytes: int = DEFAULT_PART_BYTES) -> dict[str, Any]:
    """Build, check and release (or withhold) the study's extract as of ``as_of``."""
    engine = state_engine(settings)
    with engine.connect() as conn:
        study = get_study(conn, study_id)
        existing = released_extract(conn, study_id)
    if existing is not None:
        return _summary(existing, already_built=True)
    spec = study.spec
    if study.status != "approved":
        raise StudyStateError(f"study {study_id} is {study.status}: only approved studies get extracts")
    if not spec.start_on <= as_of <= spec.end_on:
        raise StudyStateError(f"study {study_id} runs {spec.start_on} to {spec.end_on}: no extract on {as_of}")
    _abandon_stale(settings, study_id, actor=actor, as_of=as_of)
    age_as_of = spec.extract.age_as_of or as_of
    data_key = new_data_key()
    with recorded(settings) as rec:
        key = ensure_study_key(rec.conn, settings, study_id, as_of)
        built = rec.conn.execute(sa.select(sa.func.count()).select_from(t.extracts)
                                 .where(t.extracts.c.study_id == study_id)).scalar_one()
        extract_id = f"{study_id}-x{built + 1}"
        rec.conn.execute(t.extracts.insert().values(
            extract_id=extract_id, study_id=study_id, status="building", built_on=as_of, age_as_of=age_as_of,
            spec_sha256=spec.sha256(),
            wrapped_data_key=wrap_data_key(key, data_key, extract_id)))

    store = CaseStore.open(settings.store(spec.extract.store))
    objects = open_objects(settings)
    log = ObjectLog(engine, study_id, extract_id, as_of)
    pipeline = ExtractPipeline(spec.extract, Pseudonymiser(key.pseudonym_key, store.name), age_as_of)
    check = pipeline.disclosure_check()
    writer = PartWriter(objects, f"research/{study_id}/{extract_id}", data_key, pipeline.schema,
                        record=log.recorder("part"), part_bytes=part_bytes)
    members = _MemberIndex(engine, study_id, extract_id)
    for raw in stream_population(store, spec, batch_rows):
        batch = pipeline.transform(raw)
        check.add(batch)
        writer.write(batch)
        members.add(batch[PERSON_COLUMN])
    parts = writer.close()
    report = check.report()
    outcome = report.to_dict()
    if report.passed:
        for table in spec.extract.tables:
            object_key = f"research/{study_id}/{extract_id}/table-{table.name}.parquet.enc"
            record = log.recorder("table")
            record(object_key, None)
            record(object_key, objects.put(object_key, seal(data_key, parquet_bytes(check.table(table.name)), object_key)))
        removed = {}
    else:
        removed = remove_extract_objects(settings, study_id, extract_id, as_of=as_of)
    status = "released" if report.passed else "withheld"
    counts = {"rows": report.rows, "persons": report.persons, "parts": len(parts), "classes": report.classes,
              "k_failing_classes": outcome["k_failing_classes"], "k_failing_persons": outcome["k_failing_persons"],
              "l_failing_classes": sum(outcome["l_failing_classes"].values()), **removed}
    with recorded(settings) as rec:
        if not report.passed:
            rec.conn.execute(t.members.delete().where(t.members.c.extract_id == extract_id))
        rec.conn.execute(t.extracts.update().where(t.extracts.c.extract_id == extract_id).values(
            status=status, rows=report.rows, persons=report.persons, parts=len(parts),
            columns_json=json.dumps(pipeline.schema.names), report_json=json.dumps(outcome, sort_keys=True)))
        rec.append(actor=actor, action=RELEASED_ACTION if report.passed else WITHHELD_ACTION, rule=RULE,
                   store=store.name, record_ids=[study_id, extract_id], counts=counts,
                   reason=None if report.passed else "disclosure control failed: extract not released",
                   details={"study_id": study_id, "extract_id": extract_id, "key_id": key.key_id, "k": spec.extract.k,
                            "l": spec.extract.l, "as_of": as_of.isoformat(), "age_as_of": age_as_of.isoformat(),
                            "free_text_dropped": list(spec.extract.dropped_free_text()),
                            "objects_prefix": f"research/{study_id}/{extract_id}/", "objects_uri": objects.uri})
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.extracts).where(t.extracts.c.extract_id == extract_id)).one()
    return _summary(row, already_built=False, free_text_dropped=list(spec.extract.dropped_free_text()), report=outcome)


class _MemberIndex:
    """Person pseudonyms of an extract, written batch by batch for access-request lookups."""

    def __init__(self, engine: sa.Engine, study_id: str, extract_id: str) -> None:
        self._engine, self._study, self._extract = engine, study_id, extract_id
        self._last: str | None = None

    def add(self, persons: pa.ChunkedArray) -> None:
        if len(persons) == 0:
            return
        distinct = [p for p in pc.unique(persons).to_pylist() if p is not None and p != self._last]
        self._last = persons[-1].as_py()
        if distinct:
            with self._engine.begin() as conn:
                conn.execute(t.members.insert(), [{"extract_id": self._extract, "study_id": self._study, "member": p}
                                                  for p in distinct])


def _open_extract(settings: Settings, study_id: str) -> tuple[Any, bytes, list[str]]:
    with state_engine(settings).connect() as conn:
        row = released_extract(conn, study_id)
        if row is None:
            raise ExtractUnreadable(f"study {study_id} has no released extract (never built, withheld or destroyed)")
        key = load_study_key(conn, settings, study_id)
        keys = conn.execute(sa.select(t.objects.c.object_key).where(
            t.objects.c.extract_id == row.extract_id, t.objects.c.kind == "part", t.objects.c.deleted_on.is_(None))
            ).scalars().all()
    return row, unwrap_data_key(key, row.wrapped_data_key, row.extract_id), sorted(keys, key=part_position)


def read_extract(settings: Settings, study_id: str, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """The released extract, decrypted part by part; fails once the key or the objects are gone."""
    _, data_key, keys = _open_extract(settings, study_id)
    objects = open_objects(settings)
    for object_key in keys:
        yield from read_part(unseal(data_key, objects.get(object_key), object_key), batch_rows)


def export_extract(settings: Settings, study_id: str, directory: Path, *, actor: str, as_of: date) -> dict[str, Any]:
    """Decrypt the released extract into ``directory`` (one Parquet file per part, 0600) and record every copy.

    Every file is registered in ``research_copies`` so that the end of the study
    deletes it too; the export itself is a ledger entry.
    """
    row, data_key, keys = _open_extract(settings, study_id)
    objects = open_objects(settings)
    directory = Path(directory).resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for index, object_key in enumerate(keys):
        plain = unseal(data_key, objects.get(object_key), object_key)
        path = directory / f"{row.extract_id}.part-{index:05d}.parquet"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(plain)
        with state_engine(settings).begin() as conn:  # recorded at once: a crash later must not orphan the file
            conn.execute(t.copies.insert().values(study_id=study_id, extract_id=row.extract_id, path=str(path),
                                                  sha256=sha256_hex(plain), created_on=as_of))
        written.append(str(path))
    with recorded(settings) as rec:
        rec.append(actor=actor, action=EXPORTED_ACTION, rule=RULE, record_ids=[study_id, row.extract_id],
                   counts={"files": len(written), "rows": int(row.rows or 0)},
                   details={"study_id": study_id, "extract_id": row.extract_id, "directory": str(directory)})
    return {"study_id": study_id, "extract_id": row.extract_id, "files": written}
