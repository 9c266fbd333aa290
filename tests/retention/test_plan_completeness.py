"""``retention plan --json`` answers "why isn't case X going?" for every case of a generated store.

Every case appears exactly once: due, review, excluded with reason codes, or
not due with a reason and, where a clock is running, the date it becomes due.
Small plan windows force the windowed path (chains across windows) to account
for every case too. (The hand-written scenario store is checked the same way,
case by case, in test_scenarios.py.) SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import sqlalchemy as sa

from governance.config import StoreConfig
from governance.db import make_engine
from governance.retention.plan import build_plan
from governance.retention.schedule import load_schedule
from governance.state import ensure_schema
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store

SECTIONS = ("due", "review", "excluded", "not_due")


def test_every_generated_case_is_listed_once_with_its_reason(db_url, tmp_path):
    store = CaseStore.open(StoreConfig("default", db_url, "reference"))
    generate_store(store, open_object_store((tmp_path / "objects").as_uri()), families=150, seed=12)
    state = make_engine(db_url)
    ensure_schema(state)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(store.raw("case", "id"))).scalars().all()
    for window in (5000, 37):
        plan = build_plan(store, state, load_schedule(), date(2026, 12, 5), window=window).to_json()
        listed = [(section, entry) for section in SECTIONS for entry in plan[section]]
        assert Counter(e["case_id"] for _, e in listed) == Counter(stored), f"window {window}"
        assert plan["counts"]["cases"] == len(stored)
        for section, entry in listed:
            assert entry["status"] == section
            if section in ("excluded", "not_due"):
                assert entry["reasons"], entry
            if entry["reasons"] == ["CLOCK_RUNNING"]:
                assert entry["due_on"] > "2026-12-05", entry
        assert {e["status"] for _, e in listed} >= {"due", "excluded", "not_due"}
    store.engine.dispose()
    state.dispose()
