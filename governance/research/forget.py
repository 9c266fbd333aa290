"""Destroyed cases leave research extracts too: their rows are cut out of the stored parts.

The retention sweep destroys cases "and any copy the platform itself made". A
live study's released extract is such a copy. After each chunk,
:func:`forget_cases` recomputes the destroyed cases' and people's pseudonyms
with each live study's key, rewrites only the encrypted parts holding their
rows, drops the destroyed people from the member index, corrects the
extract's counts and records one ledger entry per study it changed (counts only).

Crash safety: a part is rewritten to a new key (``part-00003-r1...``), recorded
before it is put, and only then is every version of the old part deleted. A
rerun first settles a part left with two live generations (the newer wins if its
put landed, otherwise it is dropped), then finds no rows left to remove; the
rows an interrupted run removed are still ledgered, because the extract's
recorded row count is compared with what is stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from governance.config import Settings
from governance.db import one_of
from governance.research import tables as t
from governance.research.catalogue import FIELDS
from governance.research.parts import part_position, rewritten_key, seal, unseal
from governance.research.pipeline import PERSON_COLUMN
from governance.research.pseudonym import Pseudonymiser
from governance.research.recording import RULE, recorded
from governance.research.storekeeping import ObjectLog, delete_recorded
from governance.research.studies import get_study
from governance.research.studykeys import load_study_key, unwrap_data_key
from governance.state import state_engine
from governance.storage import ObjectStore
from governance.storage.base import sha256_hex
from governance.stores.seeding import open_objects

__all__ = ["forget_cases", "FORGOTTEN_ACTION"]

FORGOTTEN_ACTION = "research.rows.forgotten"
_TOTALS = ("rows_removed", "parts_rewritten", "object_versions_deleted", "recipient_copies_not_recalled")


@dataclass(frozen=True)
class _Destroyed:
    """The destroyed people's and cases' pseudonyms in one study, and which extract rows derive from them."""

    people: pa.Array
    cases: pa.Array
    case_column: str | None

    @property
    def columns(self) -> list[str]:
        return [PERSON_COLUMN, *([self.case_column] if self.case_column else [])]

    def rows_of(self, table: pa.Table) -> pa.Array:
        mask = pc.is_in(table[PERSON_COLUMN], value_set=self.people)
        if self.case_column:
            mask = pc.or_(mask, pc.is_in(table[self.case_column], value_set=self.cases))
        return pc.fill_null(mask, False)


def forget_cases(settings: Settings, store_name: str, *, case_ids: list[str], person_ids: list[str],
                 as_of: date, actor: str, batch_id: str) -> dict[str, int]:
    """Remove, from every live study of ``store_name``, the extract rows of destroyed cases and people.

    A row goes when its case pseudonym is one of ``case_ids`` (if the extract has
    a case column) or its person pseudonym is one of ``person_ids`` (people who
    belong to no remaining case). Without a case column, rows cannot be tied to a
    case: a person still on another case keeps all their rows, including those of
    the destroyed case, until their own record goes or the study ends.

    Only released extracts of studies not ended are touched; anonymised outputs
    and aggregate tables hold no person-level rows and are left alone. Exported
    files (``research_copies``) cannot be rewritten: they are counted, per study
    changed, as ``recipient_copies_not_recalled`` for the IG team to chase.
    Returns counts only; safe to run again.
    """
    totals = {"studies": 0, **dict.fromkeys(_TOTALS, 0)}
    if not case_ids and not person_ids:
        return totals
    engine = state_engine(settings)
    with engine.connect() as conn:
        extracts = conn.execute(
            sa.select(t.extracts).join(t.studies, t.studies.c.study_id == t.extracts.c.study_id)
            .where(t.studies.c.store == store_name, t.studies.c.status != "ended", t.extracts.c.status == "released",
                   sa.exists().where(t.keys.c.study_id == t.studies.c.study_id))
            .order_by(t.extracts.c.extract_id)).all()
    objects = open_objects(settings)
    for extract in extracts:
        changed = _forget_in_extract(settings, objects, extract, store_name, case_ids, person_ids,
                                     as_of=as_of, actor=actor, batch_id=batch_id)
        if changed:
            totals["studies"] += 1
            for name in _TOTALS:
                totals[name] += changed[name]
    return totals


def _forget_in_extract(settings: Settings, objects: ObjectStore, extract: Any, store_name: str,
                       case_ids: Sequence[str], person_ids: Sequence[str], *, as_of: date, actor: str,
                       batch_id: str) -> dict[str, int] | None:
    engine = state_engine(settings)
    study_id, extract_id = extract.study_id, extract.extract_id
    with engine.connect() as conn:
        study = get_study(conn, study_id)
        key = load_study_key(conn, settings, study_id)
        recorded_parts = conn.execute(sa.select(
            t.objects.c.id, t.objects.c.object_key, t.objects.c.sha256, t.objects.c.deleted_on).where(
            t.objects.c.extract_id == extract_id, t.objects.c.kind == "part")).all()
    parts = [p for p in recorded_parts if p.deleted_on is None]
    used_keys = {p.object_key for p in recorded_parts}
    spec = study.spec.extract
    pseudonymiser = Pseudonymiser(key.pseudonym_key, store_name)
    case_column = spec.rules["case_id"].output_name(FIELDS["case_id"]) if "case_id" in spec.output_fields() else None
    destroyed = _Destroyed(pseudonymiser.column("person", pa.array(person_ids, pa.string())),
                           pseudonymiser.column("case", pa.array(case_ids, pa.string())), case_column)
    interrupted = len({part_position(p.object_key)[0] for p in parts}) < len(parts)
    if case_column is None and not interrupted and not _has_members(engine, extract_id, destroyed.people):
        return None  # the cheap way out: nothing of theirs here, and nothing to decrypt

    parts, replaced, versions = _settle_interrupted(engine, objects, parts, as_of)
    data_key = unwrap_data_key(key, extract.wrapped_data_key, extract_id)
    record = ObjectLog(engine, study_id, extract_id, as_of).recorder("part")
    doomed_people: set[str] = set()
    still_present: set[str] = set()
    rows_left = 0
    for part in sorted(parts, key=lambda p: part_position(p.object_key)):
        plain = unseal(data_key, objects.get(part.object_key), part.object_key)
        ids = pq.read_table(pa.BufferReader(plain), columns=destroyed.columns)
        doomed = destroyed.rows_of(ids)
        removed = pc.sum(doomed).as_py() or 0
        rows_left += ids.num_rows - removed
        people = ids[PERSON_COLUMN]
        # Rows are grouped by person across parts, so a person whose rows straddle a part
        # boundary is that part's first or last: with the removed rows' own people, the
        # only ones whose kept rows must be looked for.
        watched = {people[0].as_py(), people[-1].as_py()} if ids.num_rows else set()
        if removed:
            gone = set(pc.unique(people.filter(doomed)).to_pylist())
            doomed_people |= gone
            watched |= gone
        kept = people.filter(pc.invert(doomed))
        still_present |= set(pc.unique(kept.filter(pc.is_in(kept, value_set=pa.array(sorted(watched), pa.string()))))
                             .to_pylist())
        if not removed:
            continue
        target = rewritten_key(part.object_key)
        while target in used_keys:  # a key once recorded names one object only, even one that never landed
            target = rewritten_key(target)
        used_keys.add(target)
        record(target, None)
        record(target, objects.put(target, seal(data_key, _without_rows(plain, destroyed), target)))
        versions += delete_recorded(engine, objects, [part], as_of)["versions_removed"]
        replaced += 1

    rows_removed = (extract.rows or 0) - rows_left
    if not replaced and not rows_removed:
        return None
    forgotten = sorted(set(destroyed.people.to_pylist()) | (doomed_people - still_present))
    with recorded(settings) as rec:
        index_rows = rec.conn.execute(t.members.delete().where(
            t.members.c.extract_id == extract_id,
            one_of(t.members.c.member, forgotten, rec.conn.dialect.name))).rowcount
        persons = rec.conn.execute(sa.select(sa.func.count()).select_from(t.members)
                                   .where(t.members.c.extract_id == extract_id)).scalar_one()
        rec.conn.execute(t.extracts.update().where(t.extracts.c.extract_id == extract_id)
                         .values(rows=rows_left, persons=persons, parts=len(parts)))
        copies = rec.conn.execute(sa.select(sa.func.count()).select_from(t.copies).where(
            t.copies.c.study_id == study_id, t.copies.c.removed_on.is_(None))).scalar_one()
        counts = {"rows_removed": rows_removed, "parts_rewritten": replaced, "object_versions_deleted": versions,
                  "recipient_copies_not_recalled": copies}
        rec.append(actor=actor, action=FORGOTTEN_ACTION, rule=RULE, store=store_name, record_ids=[study_id, extract_id],
                   reason="cases destroyed by the retention sweep: their rows removed from the study's extract",
                   counts={**counts, "index_rows_removed": index_rows, "rows_left": rows_left},
                   details={"study_id": study_id, "extract_id": extract_id, "batch_id": batch_id,
                            "as_of": as_of.isoformat(), "objects_uri": objects.uri})
    return counts


def _has_members(engine: sa.Engine, extract_id: str, people: pa.Array) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(t.members.c.member).where(
            t.members.c.extract_id == extract_id,
            one_of(t.members.c.member, people.to_pylist(), conn.dialect.name)).limit(1)).first() is not None


def _without_rows(plain: bytes, destroyed: _Destroyed) -> memoryview:
    """The part's Parquet less the destroyed rows, row group by row group (same schema, same order)."""
    source = pq.ParquetFile(pa.BufferReader(plain))
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, source.schema_arrow, compression="zstd") as writer:
        for index in range(source.num_row_groups):
            group = source.read_row_group(index)
            kept = group.filter(pc.invert(destroyed.rows_of(group)))
            if kept.num_rows:
                writer.write_table(kept, row_group_size=kept.num_rows)
    # A part left empty is still written: its record marks the old part as replaced, so a
    # rerun after a crash knows the old one may go.
    return memoryview(sink.getvalue()).cast("B")


def _settle_interrupted(engine: sa.Engine, objects: ObjectStore, parts: Sequence[Any],
                        as_of: date) -> tuple[list[Any], int, int]:
    """Finish rewrites an interrupted run left with two live generations of one part.

    A rewrite is recorded before it is put and puts are whole-object, so a newer
    generation whose object exists is complete and the older ones go; one whose
    object does not exist never landed and is dropped. Returns the live parts,
    the parts replaced and the object versions deleted.
    """
    generations: dict[int, list[Any]] = defaultdict(list)
    for part in parts:
        generations[part_position(part.object_key)[0]].append(part)
    live, replaced, versions = [], 0, 0
    for rows in generations.values():
        rows.sort(key=lambda p: part_position(p.object_key))
        while len(rows) > 1 and not objects.exists(rows[-1].object_key):
            versions += delete_recorded(engine, objects, [rows.pop()], as_of)["versions_removed"]
        newest = rows[-1]
        if len(rows) > 1:
            versions += delete_recorded(engine, objects, rows[:-1], as_of)["versions_removed"]
            replaced += len(rows) - 1
            if newest.sha256 is None:  # the run died between the put and its bookkeeping
                blob = objects.get(newest.object_key)
                with engine.begin() as conn:
                    conn.execute(t.objects.update().where(t.objects.c.id == newest.id)
                                 .values(size=len(blob), sha256=sha256_hex(blob)))
        live.append(newest)
    return live, replaced, versions
