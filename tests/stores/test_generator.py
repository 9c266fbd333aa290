"""The synthetic generator: deterministic, both mappings, exact problem counts."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from governance.config import StoreConfig
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store
from governance.stores.synthetic.generator import DEFAULT_AS_OF
from governance.stores.synthetic.identifiers import nhs_check_digit
from governance.stores.synthetic.plan import DEFECT_KINDS, VIOLATION_KINDS


def _generate(url, mapping, tmp_path, families=60, seed=5, clean=False, name="t", objects_dir="objects"):
    store = CaseStore.open(StoreConfig(name, url, mapping))
    objects = open_object_store((tmp_path / objects_dir).as_uri())
    return store, objects, generate_store(store, objects, families=families, seed=seed, clean=clean)


def _dump(store: CaseStore) -> dict:
    with store.engine.connect() as conn:
        return {
            e: sorted(tuple(str(v) for v in row) for row in conn.execute(store.select(e)))
            for e in store.mapping.entities
        }


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_row_counts_match_the_manifest(db_url, tmp_path, mapping):
    store, objects, result = _generate(db_url, mapping, tmp_path)
    assert store.counts() == result.counts
    assert result.counts["family"] == 60
    assert sum(1 for _ in objects.list("stores/t/")) == result.objects == result.counts["document"]
    assert result.counts["casenote"] > result.counts["case"] * 3


def test_same_seed_same_store_different_seed_different_store(tmp_path):
    a, oa, ra = _generate(f"sqlite:///{tmp_path/'a.db'}", "reference", tmp_path, objects_dir="a")
    b, ob, rb = _generate(f"sqlite:///{tmp_path/'b.db'}", "reference", tmp_path, objects_dir="b")
    c, _, rc = _generate(f"sqlite:///{tmp_path/'c.db'}", "reference", tmp_path, seed=6, objects_dir="c")
    keys = list(oa.list())
    assert keys == list(ob.list()) and [oa.get(k) for k in keys] == [ob.get(k) for k in keys]
    assert _dump(a) == _dump(b)
    assert json.dumps(ra.problems) == json.dumps(rb.problems)
    assert _dump(a) != _dump(c)


def test_every_problem_kind_is_injected_and_recorded(tmp_path):
    _, _, result = _generate(f"sqlite:///{tmp_path/'p.db'}", "reference", tmp_path, families=400)
    counts = result.problem_counts()
    for kind in DEFECT_KINDS + VIOLATION_KINDS:
        assert counts[kind] == result.planned[kind] == 2, kind


def test_injected_defects_are_really_in_the_data(sqlite_url, tmp_path):
    store, _, result = _generate(sqlite_url, "reference", tmp_path, families=400)
    case = store.table("case")
    with store.engine.connect() as conn:
        closed_no_date = conn.execute(
            sa.select(case.c.case_id).where(case.c.status == "closed", case.c.closed_on.is_(None))).scalars().all()
        before_open = conn.execute(
            sa.select(case.c.case_id).where(case.c.closed_on < case.c.opened_on)).scalars().all()
        future = conn.execute(sa.select(case.c.case_id).where(case.c.closed_on > DEFAULT_AS_OF)).scalars().all()
        notes, cases = store.table("casenote"), store.table("case")
        orphan_notes = conn.execute(
            sa.select(notes.c.casenote_id).where(~notes.c.case_id.in_(sa.select(cases.c.case_id)))).scalars().all()
    assert sorted(closed_no_date) == result.problems["missing_closure_date"]
    assert sorted(before_open) == result.problems["closure_before_opening"]
    assert sorted(future) == result.problems["future_closure_date"]
    assert sorted(orphan_notes) == result.problems["orphan_casenote"]


def test_clean_store_has_no_problems(tmp_path):
    store, _, result = _generate(f"sqlite:///{tmp_path/'clean.db'}", "reference", tmp_path, families=200, clean=True)
    assert sum(result.problem_counts().values()) == 0
    case = store.table("case")
    with store.engine.connect() as conn:
        bad = conn.execute(sa.select(sa.func.count()).select_from(case).where(
            sa.or_(case.c.closed_on < case.c.opened_on, case.c.closed_on > DEFAULT_AS_OF,
                   sa.and_(case.c.status == "closed", case.c.closed_on.is_(None))))).scalar_one()
    assert bad == 0


def test_text_mentions_people_and_patterns_but_only_fictional_identifiers(sqlite_url, tmp_path):
    store, _, result = _generate(sqlite_url, "reference", tmp_path, families=100)
    for kind in ("mention_known_person_name", "mention_known_phone", "mention_pattern_phone",
                 "mention_pattern_email", "mention_pattern_postcode", "mention_pattern_nhs", "mention_pattern_ni"):
        assert result.tally.get(kind, 0) > 0, kind
    people = store.table("person")
    with store.engine.connect() as conn:
        phones = conn.execute(sa.select(people.c.phone).where(people.c.phone.is_not(None))).scalars().all()
        postcodes = conn.execute(sa.select(people.c.postcode).where(people.c.postcode.is_not(None))).scalars().all()
        emails = conn.execute(sa.select(people.c.email).where(people.c.email.is_not(None))).scalars().all()
    drama = ("07700 900", "020 7946 0", "0113 496 0", "0161 496 0")
    assert phones and all(p.startswith(drama) for p in phones)
    assert postcodes and all(p[0] in "QVX" for p in postcodes)
    assert emails and all(e.endswith("@example.org") for e in emails)


def test_nhs_check_digit_known_answer():
    # NHS Digital's published example: 943 476 5919 is valid.
    assert nhs_check_digit("943476591") == 9


def test_leap_days_are_counted(tmp_path):
    store, _, result = _generate(f"sqlite:///{tmp_path/'leap.db'}", "reference", tmp_path, families=1500, seed=11)
    people = store.table("person")
    with store.engine.connect() as conn:
        dobs = conn.execute(sa.select(people.c.date_of_birth).where(people.c.date_of_birth.is_not(None))).scalars().all()
    leap = sum(1 for d in dobs if d.month == 2 and d.day == 29)
    assert leap == result.tally.get("leap_day_births", 0) > 0
