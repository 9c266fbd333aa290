"""Fixtures for the data-quality tests: generated stores on SQLite and PostgreSQL, both mappings.

``make_store`` writes a fictional store with the synthetic generator (defects
injected unless ``clean``) into the test's database and returns it with the
generator's manifest, which the tests hold the rules to, record for record.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from governance.config import Settings, StoreConfig
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store
from governance.stores.synthetic.generator import DEFAULT_AS_OF

AS_OF: date = DEFAULT_AS_OF
AT = datetime(2026, 7, 1, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_store_at(tmp_path: Path):
    """Factory: (url, mapping, families, seed, clean) -> (CaseStore, manifest)."""
    objects = open_object_store((tmp_path / "objects").as_uri())
    made: list[CaseStore] = []

    def make(url: str, mapping: str = "reference", *, families: int = 200, seed: int = 11, clean: bool = False,
             name: str = "default"):
        store = CaseStore.open(StoreConfig(name, url, mapping))
        manifest = generate_store(store, objects, families=families, seed=seed, clean=clean)
        made.append(store)
        return store, manifest

    yield make
    for store in made:
        store.engine.dispose()


@pytest.fixture
def make_store(db_url: str, make_store_at):
    """Factory: (mapping, families, seed, clean) -> (CaseStore, manifest), on SQLite and on PostgreSQL."""
    return lambda mapping="reference", **kw: make_store_at(db_url, mapping, **kw)


@pytest.fixture
def settings_for(tmp_path: Path):
    """Settings with one store at ``url`` and the ledger/state in ``ledger_url`` (default SQLite under tmp)."""

    def build(url: str, mapping: str = "reference", *, ledger_url: str | None = None, name: str = "default") -> Settings:
        home = tmp_path / "home"
        return Settings(
            home=home,
            stores=(StoreConfig(name, url, mapping),),
            ledger_url=ledger_url or f"sqlite:///{home / 'ledger.db'}",
            objects_url=(home / "objects").as_uri(),
            keys_dir=home / "keys",
        )

    return build


@pytest.fixture
def governance_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GOVERNANCE_HOME (the working directory too), no governance settings from the shell."""
    import os

    for name in list(os.environ):
        if name.startswith(("GOVERNANCE_", "AIRFLOW_CONN_CASE_STORE_", "AIRFLOW_CONN_GOVERNANCE_")):
            monkeypatch.delenv(name)
    home = tmp_path / "var"
    monkeypatch.setenv("GOVERNANCE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home
