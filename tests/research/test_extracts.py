"""Building extracts from a generated store, on SQLite and PostgreSQL.

Release only when k and l hold; pseudonyms stable within a study and
unlinkable across; opted-out families absent where the study says so;
encrypted at rest; nothing personal in the ledger.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pytest
import sqlalchemy as sa

from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.research import tables as t
from governance.research.errors import StudyStateError
from governance.research.extracts import build_extract, read_extract
from governance.research.parts import MAGIC
from governance.research.pseudonym import Pseudonymiser
from governance.research.studykeys import load_study_key
from governance.state import state_engine
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore
from tests.research.conftest import ACTOR, BUILD_ON, END_AFTER, register, spec_dict


def _extract(settings, study_id: str = "S1") -> pa.Table:
    return pa.Table.from_batches(list(read_extract(settings, study_id)))


def _people(settings) -> list:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        return conn.execute(store.select("person", ["id", "family_id", "role", "given_name", "family_name",
                                                    "date_of_birth", "postcode", "research_opt_out"])).all()


def _subject_children_with_cases(settings) -> set[str]:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(store.raw("case_member", "person_id"), store.raw("case_member", "case_id"))
                            .where(store.is_("case_member", "role", "subject_child"))).all()
        cases = set(conn.execute(sa.select(store.raw("case", "id"))).scalars())
    return {p for p, c in rows if c in cases}


def _pseudonyms(settings, study_id: str, ids) -> dict[str, str]:
    with state_engine(settings).connect() as conn:
        key = load_study_key(conn, settings, study_id)
    p = Pseudonymiser(key.pseudonym_key, "default")
    return {i: p.one("person", i) for i in ids}


def test_a_released_extract_passes_k_and_l_and_holds_no_identifiers(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict())
    result = build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    assert result["status"] == "released", result["report"]
    table = _extract(settings)
    assert table.num_rows == result["rows"] > 0
    assert table.column_names == ["person_pseudonym", "family_pseudonym", "case_pseudonym", "age_band", "case_type",
                                  "opened_month", "child_protection_concerns", "casenote_count"]
    assert "closure_reason" not in table.column_names  # free text dropped
    counts = table.group_by("age_band").aggregate([("person_pseudonym", "count_distinct")])
    assert min(counts["person_pseudonym_count_distinct"].to_pylist()) >= 10
    diversity = table.group_by("age_band").aggregate([("case_type", "count_distinct")])
    assert min(diversity["case_type_count_distinct"].to_pylist()) >= 2
    assert set(table["age_band"].to_pylist()) <= {"0-9", "10-19", "20+", None}

    # No raw identifier, name, date of birth or postcode anywhere in the decrypted extract.
    decrypted = json.dumps(table.to_pylist(), default=str)
    for person in _people(settings)[:200]:
        for value in (person.id, person.given_name, person.family_name, person.postcode):
            assert value is None or f'"{value}"' not in decrypted
        assert person.date_of_birth is None or person.date_of_birth.isoformat() not in decrypted

    # Encrypted at rest: no Parquet magic, no pseudonym in the stored bytes.
    objects = open_objects(settings)
    with state_engine(settings).connect() as conn:
        keys = conn.execute(sa.select(t.objects.c.object_key).where(t.objects.c.kind == "part")).scalars().all()
    stored = objects.get(keys[0])
    assert stored.startswith(MAGIC) and b"PAR1" not in stored
    assert table["person_pseudonym"][0].as_py().encode() not in stored

    # Building again changes nothing.
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)["already_built"] is True


def test_a_deliberately_small_cohort_fails_release(world) -> None:
    settings = world(families=8)
    register(settings, spec_dict())
    result = build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)

    assert result["status"] == "withheld"
    report = result["report"]
    assert report["passed"] is False and report["k_failing_classes"] >= 1
    assert all(set(f) == {"class", "persons", "rows"} for f in report["k_failures"])
    assert all(f["persons"] < 10 for f in report["k_failures"])
    # Nothing of it is kept: no object version, no member index, and reading fails.
    objects = open_objects(settings)
    with state_engine(settings).connect() as conn:
        rows = conn.execute(sa.select(t.objects.c.object_key, t.objects.c.deleted_on)).all()
        members = conn.execute(sa.select(sa.func.count()).select_from(t.members)).scalar_one()
        status = conn.execute(sa.select(t.extracts.c.status)).scalar_one()
    assert rows and all(r.deleted_on is not None and objects.versions(r.object_key) == [] for r in rows)
    assert members == 0 and status == "withheld"
    with pytest.raises(Exception, match="no released extract"):
        _extract(settings)
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        withheld = [e for e in ledger.entries() if e.action == "research.extract_withheld"]
    assert len(withheld) == 1 and withheld[0].counts["k_failing_classes"] == report["k_failing_classes"]


def test_pseudonyms_are_stable_within_a_study_and_unlinkable_across(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict("S1"))
    register(settings, spec_dict("S2"))
    for study in ("S1", "S2"):
        assert build_extract(settings, study, as_of=BUILD_ON, actor=ACTOR)["status"] == "released"
    one, two = _extract(settings, "S1"), _extract(settings, "S2")

    # Stable: each person's pseudonym is what the study key recomputes, on every row of theirs.
    included = _subject_children_with_cases(settings) & {p.id for p in _people(settings) if not p.research_opt_out}
    expected = _pseudonyms(settings, "S1", included)
    assert set(one["person_pseudonym"].to_pylist()) <= set(expected.values())
    rows_per_person = one.group_by("person_pseudonym").aggregate([([], "count_all")])
    assert max(rows_per_person["count_all"].to_pylist()) > 1  # some people have several episodes, one pseudonym
    # Unlinkable: the same people, the same number of rows, no pseudonym in common.
    assert one.num_rows == two.num_rows
    for column in ("person_pseudonym", "family_pseudonym", "case_pseudonym"):
        assert not set(one[column].to_pylist()) & set(two[column].to_pylist())


@pytest.mark.parametrize("scope", ["family", "person"])
def test_opted_out_families_are_absent_where_the_study_says_so(world, scope: str) -> None:
    settings = world(families=150)
    register(settings, spec_dict("S1", opt_out_scope=scope))
    register(settings, spec_dict("S2", exclude_opted_out=False))
    for study in ("S1", "S2"):
        build_extract(settings, study, as_of=BUILD_ON, actor=ACTOR)
    people = _people(settings)
    children = _subject_children_with_cases(settings)
    opted_families = {p.family_id for p in people if p.research_opt_out}
    opted_people = {p.id for p in people if p.research_opt_out}
    if scope == "family":
        absent = {p.id for p in people if p.family_id in opted_families} & children
    else:
        absent = opted_people & children
    present = children - absent
    assert absent and present and (scope == "person" or any(p not in opted_people for p in absent))

    with state_engine(settings).connect() as conn:
        status = dict(conn.execute(sa.select(t.extracts.c.study_id, t.extracts.c.status)).all())
    assert status["S1"] == "released"
    got = set(_extract(settings, "S1")["person_pseudonym"].to_pylist())
    pseudonyms = _pseudonyms(settings, "S1", children)
    assert got == {pseudonyms[p] for p in present}
    # The study that does not exclude opt-outs has them.
    got_all = set(_extract(settings, "S2")["person_pseudonym"].to_pylist())
    pseudonyms = _pseudonyms(settings, "S2", children)
    assert got_all == {pseudonyms[p] for p in children}


def test_only_approved_running_studies_get_extracts(world) -> None:
    from datetime import date

    settings = world(families=10)
    spec = spec_dict("S3")
    del spec["approved_on"]
    register(settings, spec)
    with pytest.raises(StudyStateError, match="only approved"):
        build_extract(settings, "S3", as_of=BUILD_ON, actor=ACTOR)
    register(settings, spec_dict("S4"))
    with pytest.raises(StudyStateError, match="no extract on 2027-01-01"):
        build_extract(settings, "S4", as_of=date(2027, 1, 1), actor=ACTOR)


def test_an_interrupted_build_is_cleaned_up_before_building_again(world, monkeypatch) -> None:
    import governance.research.extracts as extracts

    settings = world(families=150)
    register(settings, spec_dict())

    def boom(*_a, **_k):
        raise RuntimeError("killed mid-build")

    monkeypatch.setattr(extracts.PartWriter, "close", boom)
    with pytest.raises(RuntimeError):
        build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR, batch_rows=50, part_bytes=1)
    monkeypatch.undo()
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(t.extracts.c.status)).scalar_one() == "building"
        written = conn.execute(sa.select(t.objects.c.object_key)).scalars().all()
    assert written  # parts were already put before the crash

    result = build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    assert result["status"] == "released" and result["extract_id"] == "S1-x2"
    objects = open_objects(settings)
    assert all(objects.versions(key) == [] for key in written)
    with state_engine(settings).connect() as conn:
        statuses = dict(conn.execute(sa.select(t.extracts.c.extract_id, t.extracts.c.status)).all())
        stale_members = conn.execute(sa.select(sa.func.count()).select_from(t.members)
                                     .where(t.members.c.extract_id == "S1-x1")).scalar_one()
    assert statuses == {"S1-x1": "abandoned", "S1-x2": "released"} and stale_members == 0


def test_the_ledger_holds_identifiers_and_counts_only(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict())
    build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        entries = list(ledger.entries())
        assert ledger.verify().ok
    text = json.dumps([dataclasses.asdict(e) for e in entries], default=str)
    assert [e.action for e in entries] == ["research.study_registered", "research.extract_released"]
    table = _extract(settings)
    for pseudonym in table["person_pseudonym"].to_pylist()[:50]:
        assert pseudonym not in text
    for person in _people(settings)[:100]:
        assert person.given_name not in text and person.family_name not in text
        assert person.id not in text


def test_nothing_personal_reaches_the_logs(world, caplog) -> None:
    import logging

    from governance.jobs.research import build, end

    settings = world(families=8)  # too small: withheld, which logs an alert
    register(settings, spec_dict(extract={"fields": ["person_id", "date_of_birth", "postcode", "case_type"]}))
    with caplog.at_level(logging.DEBUG):
        result = build(settings, study_id="S1", as_of=BUILD_ON, actor=ACTOR)
        end(settings, study_id="S1", as_of=END_AFTER, actor=ACTOR)
    assert result["status"] == "withheld" and "GOVERNANCE RESEARCH EXTRACT WITHHELD study_id=S1" in caplog.text
    for person in _people(settings):
        for value in (person.id, person.given_name, person.family_name, person.postcode):
            assert value is None or value not in caplog.text
        assert person.date_of_birth is None or person.date_of_birth.isoformat() not in caplog.text



def test_a_store_with_its_own_schema_works_through_its_mapping(tmp_path, db_url) -> None:
    """A Home-Start-style store (CamelCase tables, its own codes): same extract, through the mapping."""
    from governance.config import Settings, StoreConfig
    from governance.stores.seeding import seed_store

    settings = Settings(home=tmp_path, stores=(StoreConfig("homestart", db_url, "homestart"),), ledger_url=db_url,
                        objects_url=(tmp_path / "objects").as_uri(), keys_dir=tmp_path / "keys")
    seed_store(settings, "homestart", families=150, seed=4)
    register(settings, spec_dict(extract={"store": "homestart", "fields": ["person_id", "date_of_birth", "case_type",
                                                                           "casenote_count"],
                                          "sensitive": [], "l": 1, "generalise": {"date_of_birth": "age_band:2:6"}}))
    result = build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    assert result["rows"] > 0 and result["status"] == "released"
    table = _extract(settings)
    assert set(table["case_type"].to_pylist()) == {"home_start"}  # the store's own code, translated
