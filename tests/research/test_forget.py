"""Destroyed cases leave live studies' extracts: their rows go, every other row stays as it was.

The cases are destroyed with the retention sweep's own ``delete_cases`` on a
generated (fictional) store, so ``person_ids`` are exactly the people the sweep
reports as belonging to no remaining case.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import defaultdict
from datetime import date

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

import governance.research.forget as forget
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.research import tables as t
from governance.research.ending import end_study
from governance.research.extracts import build_extract, export_extract, read_extract
from governance.research.forget import FORGOTTEN_ACTION, forget_cases
from governance.research.parts import part_position, read_part, unseal
from governance.research.pseudonym import Pseudonymiser
from governance.research.studykeys import load_study_key, unwrap_data_key
from governance.retention.destroy import delete_cases
from governance.state import state_engine
from governance.storage import S3ObjectStore
from governance.storage.base import sha256_hex
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore
from tests.research.conftest import ACTOR, BUILD_ON, register, spec_dict

SWEPT_ON = date(2026, 7, 2)
NOTHING = {"studies": 0, "rows_removed": 0, "parts_rewritten": 0, "object_versions_deleted": 0,
           "recipient_copies_not_recalled": 0}
SMALL_PARTS = {"batch_rows": 40, "part_bytes": 2048}  # several parts, people straddling their boundaries
NO_CASE_COLUMN = {"fields": ["person_id", "date_of_birth", "case_type"], "k": 5}


def _extract(settings, study_id: str = "S1") -> pa.Table:
    return pa.Table.from_batches(list(read_extract(settings, study_id)))


def _parts(settings, study_id: str = "S1", live: bool = True) -> list:
    with state_engine(settings).connect() as conn:
        return conn.execute(sa.select(t.objects).where(
            t.objects.c.study_id == study_id, t.objects.c.kind == "part",
            t.objects.c.deleted_on.is_(None) if live else t.objects.c.deleted_on.is_not(None))
            .order_by(t.objects.c.object_key)).all()


def _case_ids(settings) -> list[str]:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        return sorted(conn.execute(sa.select(store.raw("case", "id"))).scalars())


def _destroy(settings, also: tuple[str, ...] = ()) -> tuple[list[str], list[str]]:
    """Destroy some cases of families with several (their children stay) and of families with one (theirs go)."""
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        cases = conn.execute(sa.select(store.raw("case", "id"), store.raw("case", "family_id"))).all()
    by_family: dict[str, list[str]] = defaultdict(list)
    for case_id, family_id in sorted(cases):
        by_family[family_id].append(case_id)
    several = [cs[0] for _, cs in sorted(by_family.items()) if len(cs) > 1][::5][:4]
    single = [cs[0] for _, cs in sorted(by_family.items()) if len(cs) == 1][::9][:4]
    with store.engine.begin() as conn:
        gathered = delete_cases(store, conn, [*several, *single, *also])
    return gathered.case_ids, gathered.person_ids


def _part_tables(settings) -> list[pa.Table]:
    """The stored parts one by one, decrypted, in reading order."""
    with state_engine(settings).connect() as conn:
        key = load_study_key(conn, settings, "S1")
        extract = conn.execute(sa.select(t.extracts).where(t.extracts.c.study_id == "S1")).one()
    data_key = unwrap_data_key(key, extract.wrapped_data_key, extract.extract_id)
    objects = open_objects(settings)
    return [pa.Table.from_batches(list(read_part(unseal(data_key, objects.get(p.object_key), p.object_key))))
            for p in sorted(_parts(settings), key=lambda p: part_position(p.object_key))]


def _case_left_behind_at_a_part_boundary(settings) -> tuple[str, str]:
    """(case id, person pseudonym): the person's rows straddle two parts; this case's rows are all in the first."""
    parts = _part_tables(settings)
    by_pseudonym = dict(zip(_pseudonyms(settings, "S1", "case", _case_ids(settings)).to_pylist(), _case_ids(settings)))
    for first, second in zip(parts, parts[1:]):
        person = first["person_pseudonym"][-1].as_py()
        cases = set(first.filter(pc.equal(first["person_pseudonym"], person))["case_pseudonym"].to_pylist())
        if second["person_pseudonym"][0].as_py() == person and len(cases) == 1:
            [case] = cases
            assert case not in second["case_pseudonym"].to_pylist()
            return by_pseudonym[case], person
    raise AssertionError("no person straddles a part boundary")


def _pseudonyms(settings, study_id: str, entity: str, ids: list[str]) -> pa.Array:
    with state_engine(settings).connect() as conn:
        key = load_study_key(conn, settings, study_id)
    one = Pseudonymiser(key.pseudonym_key, "default").one
    return pa.array([one(entity, i) for i in ids], pa.string())


def _members(settings, study_id: str = "S1") -> set[str]:
    with state_engine(settings).connect() as conn:
        return set(conn.execute(sa.select(t.members.c.member).where(t.members.c.study_id == study_id)).scalars())


def _entries(settings, action: str = FORGOTTEN_ACTION) -> list:
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        assert ledger.verify().ok
        return [e for e in ledger.entries() if e.action == action]


def _forget(settings, case_ids, person_ids, store: str = "default") -> dict:
    return forget_cases(settings, store, case_ids=case_ids, person_ids=person_ids, as_of=SWEPT_ON, actor=ACTOR,
                        batch_id="B-2026-07-02")


def _expected(settings, before: pa.Table, case_ids, person_ids) -> pa.Table:
    gone = pc.or_(pc.is_in(before["case_pseudonym"], value_set=_pseudonyms(settings, "S1", "case", case_ids)),
                  pc.is_in(before["person_pseudonym"], value_set=_pseudonyms(settings, "S1", "person", person_ids)))
    return before.filter(pc.invert(gone))


def test_rows_of_destroyed_cases_leave_the_extract_and_every_other_row_stays(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict())
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR, **SMALL_PARTS)["status"] == "released"
    before, parts_before = _extract(settings), _parts(settings)
    # A person whose rows straddle two parts loses those in the first and stays in the index.
    boundary_case, boundary_person = _case_left_behind_at_a_part_boundary(settings)
    case_ids, person_ids = _destroy(settings, also=(boundary_case,))
    expected = _expected(settings, before, case_ids, person_ids)
    destroyed_people = _pseudonyms(settings, "S1", "person", person_ids)
    of_destroyed_people = pc.is_in(before["person_pseudonym"], value_set=destroyed_people)
    on_destroyed_cases = pc.is_in(before["case_pseudonym"], value_set=_pseudonyms(settings, "S1", "case", case_ids))
    # Both kinds are here: people who went with their cases, and people still on another case.
    staying = set(before["person_pseudonym"].filter(pc.and_(on_destroyed_cases, pc.invert(of_destroyed_people)))
                  .to_pylist())
    assert pc.sum(of_destroyed_people).as_py() > 0 and boundary_person in staying

    result = _forget(settings, case_ids, person_ids)

    after = _extract(settings)
    assert after.equals(expected) and after.schema.metadata == before.schema.metadata
    assert result["studies"] == 1 and result["rows_removed"] == before.num_rows - after.num_rows > 0
    rewritten = _parts(settings, live=False)
    live = _parts(settings)
    assert result["parts_rewritten"] == len(rewritten) == result["object_versions_deleted"] > 0
    assert len(rewritten) < len(parts_before) == len(live)  # only parts holding such rows were rewritten
    objects = open_objects(settings)
    for old in rewritten:
        assert objects.versions(old.object_key) == [] and old.versions_removed == 1 and old.deleted_on == SWEPT_ON
    untouched = {(p.object_key, p.sha256) for p in parts_before} - {(p.object_key, p.sha256) for p in rewritten}
    assert untouched <= {(p.object_key, p.sha256) for p in live}
    assert {p.object_key for p in live} - {k for k, _ in untouched} == {
        p.object_key.replace(".parquet.enc", "-r1.parquet.enc") for p in rewritten}
    assert all(sha256_hex(objects.get(p.object_key)) == p.sha256 for p in live)
    # The member index and the counts agree with what is stored.
    people_after = set(after["person_pseudonym"].to_pylist())
    assert _members(settings) == people_after and not people_after & set(destroyed_people.to_pylist())
    assert staying <= people_after
    with state_engine(settings).connect() as conn:
        row = conn.execute(sa.select(t.extracts)).one()
    assert (row.rows, row.persons, row.parts) == (after.num_rows, len(people_after), len(live))

    [entry] = _entries(settings)
    assert entry.counts["rows_removed"] == result["rows_removed"] and entry.record_ids == ("S1", "S1-x1")
    assert entry.details["batch_id"] == "B-2026-07-02" and entry.details["study_id"] == "S1"
    text = json.dumps(dataclasses.asdict(entry), default=str)
    for value in [*case_ids, *person_ids, *before["person_pseudonym"].to_pylist(),
                  *before["case_pseudonym"].to_pylist(), *before["family_pseudonym"].to_pylist()]:
        assert value not in text

    # Again: the rows are already gone, so nothing is found, rewritten or recorded.
    assert _forget(settings, case_ids, person_ids) == NOTHING
    assert _extract(settings).equals(after) and _parts(settings) == live and len(_entries(settings)) == 1


def test_an_interrupted_rewrite_is_finished_by_the_rerun_without_losing_or_repeating_rows(world, monkeypatch) -> None:
    settings = world(families=150)
    register(settings, spec_dict())
    build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR, **SMALL_PARTS)
    before = _extract(settings)
    case_ids, person_ids = _destroy(settings)
    expected = _expected(settings, before, case_ids, person_ids)

    def killed(*_args, **_kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(forget, "seal", killed)  # recorded, never put
    with pytest.raises(RuntimeError):
        _forget(settings, case_ids, person_ids)
    monkeypatch.undo()
    real_delete = forget.delete_recorded

    def killed_before_deleting_a_stored_part(engine, objects, rows, as_of):
        if objects.exists(rows[0].object_key):
            raise RuntimeError("killed")
        return real_delete(engine, objects, rows, as_of)

    monkeypatch.setattr(forget, "delete_recorded", killed_before_deleting_a_stored_part)  # put, old part not deleted
    with pytest.raises(RuntimeError):
        _forget(settings, case_ids, person_ids)
    monkeypatch.undo()
    assert not _entries(settings)
    # One part now has two live generations: the original and a complete rewrite (its first try never landed).
    generations = defaultdict(list)
    for part in _parts(settings):
        generations[part_position(part.object_key)[0]].append(part_position(part.object_key)[1])
    assert [sorted(g) for g in generations.values() if len(g) > 1] == [[0, 2]]

    result = _forget(settings, case_ids, person_ids)

    after = _extract(settings)
    assert after.equals(expected)
    assert result["rows_removed"] == before.num_rows - expected.num_rows and len(_entries(settings)) == 1
    assert result["parts_rewritten"] == len(_parts(settings, live=False)) - 1  # less the rewrite that never landed
    objects = open_objects(settings)
    assert all(objects.versions(p.object_key) == [] for p in _parts(settings, live=False))
    assert all(p.sha256 is not None for p in _parts(settings))
    # Destroyed people leave the index whatever happened; nobody still in the extract does.
    members = _members(settings)
    assert set(after["person_pseudonym"].to_pylist()) <= members
    assert not members & set(_pseudonyms(settings, "S1", "person", person_ids).to_pylist())
    assert _forget(settings, case_ids, person_ids) == NOTHING


def test_every_version_of_a_rewritten_part_leaves_s3(world, moto_server) -> None:
    bucket = f"gov-research-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/gov"
    S3ObjectStore.from_url(url, endpoint_url=moto_server).ensure_bucket(versioned=True)
    settings = world(families=150, objects_url=url, s3_endpoint_url=moto_server)
    register(settings, spec_dict())
    build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    before = _extract(settings)
    [part] = _parts(settings)
    objects = open_objects(settings)
    objects.put(part.object_key, objects.get(part.object_key))  # a second version, as a retried put leaves
    case_ids, person_ids = _destroy(settings)

    result = _forget(settings, case_ids, person_ids)

    assert result["parts_rewritten"] == 1 and result["object_versions_deleted"] == 2
    raw = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    listing = raw.list_object_versions(Bucket=bucket, Prefix="gov/" + part.object_key.removesuffix(".parquet.enc"))
    assert [v["Key"] for v in listing["Versions"]] == ["gov/" + part.object_key.replace(".parquet", "-r1.parquet")]
    assert not listing.get("DeleteMarkers")
    assert _extract(settings).equals(_expected(settings, before, case_ids, person_ids))


def test_ended_studies_other_stores_and_recipient_copies_are_left_alone(world, tmp_path) -> None:
    settings = world(families=150)
    register(settings, spec_dict("S1"))
    register(settings, spec_dict("S2", end="2026-06-30", end_action="destroy"))
    for study_id in ("S1", "S2"):
        build_extract(settings, study_id, as_of=BUILD_ON, actor=ACTOR)
    end_study(settings, "S2", as_of=date(2026, 7, 1), actor=ACTOR)
    files = export_extract(settings, "S1", tmp_path / "recipient", actor=ACTOR, as_of=BUILD_ON)["files"]
    copies = {path: open(path, "rb").read() for path in files}
    before, parts_before = _extract(settings), _parts(settings)
    ended_objects = _parts(settings, "S2", live=False)
    case_ids, person_ids = _destroy(settings)

    # The same ids in another store are other cases and other people.
    assert _forget(settings, case_ids, person_ids, store="other") == NOTHING
    assert _parts(settings) == parts_before and not _entries(settings)

    result = _forget(settings, case_ids, person_ids)

    assert result["studies"] == 1 and result["recipient_copies_not_recalled"] == len(files) == 1
    [entry] = _entries(settings)
    assert entry.details["study_id"] == "S1" and entry.counts["recipient_copies_not_recalled"] == 1
    assert {path: open(path, "rb").read() for path in files} == copies  # handed over: not touched
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(t.copies.c.removed_on)).scalars().all() == [None]
    assert _parts(settings, "S2", live=False) == ended_objects and not _parts(settings, "S2")
    assert _extract(settings).equals(_expected(settings, before, case_ids, person_ids))


def test_without_a_case_column_only_destroyed_people_go(world, monkeypatch) -> None:
    settings = world(families=150)
    register(settings, spec_dict(extract=NO_CASE_COLUMN))
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)["status"] == "released"
    before = _extract(settings)
    assert "case_pseudonym" not in before.column_names
    case_ids, person_ids = _destroy(settings)

    # Nobody of theirs is in the member index: the study is skipped without decrypting anything.
    def no_decryption(*_args, **_kwargs):
        raise AssertionError("decrypted a part")

    monkeypatch.setattr(forget, "unseal", no_decryption)
    assert _forget(settings, case_ids, []) == NOTHING
    assert _forget(settings, case_ids, ["P-NOT-IN-THE-STUDY"]) == NOTHING
    monkeypatch.undo()

    result = _forget(settings, case_ids, person_ids)

    gone = pc.is_in(before["person_pseudonym"], value_set=_pseudonyms(settings, "S1", "person", person_ids))
    after = _extract(settings)
    # People still on another case keep every row, the destroyed case's included: nothing tells them apart.
    assert after.equals(before.filter(pc.invert(gone)))
    assert result["rows_removed"] == pc.sum(gone).as_py() > 0
    assert _members(settings) == set(after["person_pseudonym"].to_pylist())
