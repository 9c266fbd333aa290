"""Fixtures for research tests: a generated case store, ledger and state in the test's database.

``world(families=N)`` seeds the reference store with fictional families (the
platform's own generator) in the ``db_url`` database (SQLite, then PostgreSQL),
which also holds the ledger and the research state tables; objects go to a
local folder unless a test passes its own ``objects_url``.
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any, Callable

import pytest

from governance.config import Settings, StoreConfig
from governance.research.spec import parse_spec
from governance.research.studies import register_study
from governance.stores.seeding import seed_store

BUILD_ON = date(2026, 6, 30)
END_AFTER = date(2027, 1, 1)
ACTOR = "test:research"

BASE_SPEC: dict[str, Any] = {
    "id": "S1",
    "title": "Test study",
    "purpose": "Testing research extracts",
    "approver": "Test IG board",
    "approved_on": "2026-01-10",
    "recipient": "Fictional University",
    "start": "2026-01-01",
    "end": "2026-12-31",
    "end_action": "anonymise",
    "extract": {
        "fields": ["person_id", "family_id", "case_id", "date_of_birth", "case_type", "opened_on",
                   "child_protection_concerns", "casenote_count", "closure_reason"],
        "quasi_identifiers": ["date_of_birth"],
        "sensitive": ["case_type"],
        "generalise": {"date_of_birth": "age_band:10:20"},
        "k": 10,
        "l": 2,
    },
}


def spec_dict(study_id: str = "S1", **changes: Any) -> dict[str, Any]:
    """BASE_SPEC with top-level ``changes``; ``extract`` changes are merged into the extract table."""
    spec = copy.deepcopy(BASE_SPEC)
    spec["id"] = study_id
    extract = changes.pop("extract", {})
    spec.update(changes)
    spec["extract"].update(extract)
    return spec


def make_settings(home: Path, db_url: str, *, objects_url: str | None = None, s3_endpoint_url: str | None = None,
                  store_url: str | None = None) -> Settings:
    return Settings(
        home=home,
        stores=(StoreConfig("default", store_url or db_url, "reference"),),
        ledger_url=db_url,
        objects_url=objects_url or (home / "objects").as_uri(),
        keys_dir=home / "keys",
        s3_endpoint_url=s3_endpoint_url,
    )


@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Callable[..., Settings]:
    """``world(families=..., seed=..., objects_url=..., s3_endpoint_url=...)`` -> seeded Settings."""

    def make(families: int = 150, seed: int = 11, **kwargs: Any) -> Settings:
        # Seed with documents in a local folder (fast); research objects then go where asked.
        seed_store(make_settings(tmp_path / "home", db_url), "default", families=families, seed=seed)
        return make_settings(tmp_path / "home", db_url, **kwargs)

    return make


def register(settings: Settings, spec: dict[str, Any], as_of: date = date(2026, 1, 10)) -> str:
    return register_study(settings, parse_spec(spec), actor=ACTOR, as_of=as_of)["study_id"]
