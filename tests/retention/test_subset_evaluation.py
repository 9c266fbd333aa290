"""Re-checking a chunk must decide exactly as the full plan does (chains walked from the chunk)."""

from __future__ import annotations

import random
from datetime import date

from governance.config import StoreConfig
from governance.retention.eligibility import evaluate
from governance.retention.schedule import load_schedule
from governance.state import METADATA
from governance.db import make_engine
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store


def test_chunk_evaluation_equals_full_evaluation(db_url, tmp_path):
    store = CaseStore.open(StoreConfig("default", db_url, "reference"))
    generate_store(store, open_object_store((tmp_path / "objects").as_uri()), families=300, seed=8)
    state = make_engine(db_url)
    import governance.state as state_module

    state_module.ensure_schema(state)
    schedule = load_schedule()
    for as_of in (date(2026, 6, 30), date(2031, 1, 1)):
        full = {d.case_id: d for d in evaluate(store, state, schedule, as_of)}
        chained = [c for c, d in full.items() if "CHAIN_NOT_DUE" in d.reasons or any(r.startswith("CHAIN:") for r in d.reasons)]
        assert chained, "the generated store has re-referral chains to test"
        sample = random.Random(1).sample(sorted(full), 120) + chained[:20]
        subset = {d.case_id: d for d in evaluate(store, state, schedule, as_of, case_ids=sample)}
        assert set(subset) == set(sample)
        assert all(subset[c] == full[c] for c in sample)
    assert METADATA.tables  # the state tables the evaluation read exist
