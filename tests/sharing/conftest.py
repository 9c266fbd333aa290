"""Fixtures for the sharing tests: generated stores and a settings object per test.

Stores come from the synthetic generator (its manifest lists the exact record
ids of every deliberate violation), on SQLite and PostgreSQL (``db_url``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.config import Settings, StoreConfig
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store

#: 400 families: every violation kind is injected twice (one family in 200).
FAMILIES = 400
SEED = 5


def make_store(url: str, mapping: str, tmp_path: Path, *, clean: bool = False, families: int = FAMILIES,
               name: str = "default"):
    """A generated store and its manifest."""
    store = CaseStore.open(StoreConfig(name, url, mapping))
    objects = open_object_store((tmp_path / f"objects-{name}").as_uri())
    return store, generate_store(store, objects, families=families, seed=SEED, clean=clean)


def settings_for(tmp_path: Path, stores: list[StoreConfig], *, state_url: str | None = None,
                 ledger_url: str | None = None) -> Settings:
    home = tmp_path / "home"
    return Settings(
        home=home, stores=tuple(stores), ledger_url=ledger_url or f"sqlite:///{home / 'ledger.db'}",
        objects_url=(tmp_path / "objects").as_uri(), keys_dir=home / "keys", state_url=state_url,
    )


@pytest.fixture
def store_factory(tmp_path):
    def factory(url: str, mapping: str = "reference", **kw):
        return make_store(url, mapping, tmp_path, **kw)

    return factory


@pytest.fixture(scope="module", params=[
    "reference-sqlite", pytest.param("reference-postgres", marks=pytest.mark.postgres),
    "homestart-sqlite", pytest.param("homestart-postgres", marks=pytest.mark.postgres),
])
def scenario_store(request, tmp_path_factory):
    """The hand-made scenario store (tests/sharing/scenario.py), built once per module, mapping and backend.

    Read-only tests share it; PostgreSQL gets its own database, dropped afterwards,
    and is skipped (failed under CI=true) where no server answers, as ``db_url`` does.
    """
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tests.conftest import IN_CI, POSTGRES_URL, _admin
    from tests.sharing.scenario import build

    mapping, backend = request.param.split("-")
    if backend == "sqlite":
        store = build(f"sqlite:///{tmp_path_factory.mktemp('scenario') / 'scenario.db'}", mapping)
        yield store
        store.engine.dispose()
        return
    admin = _admin()
    if admin is None:
        message = "PostgreSQL not reachable"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run in CI)")
        pytest.skip(message + ": PostgreSQL tests skipped")
    name = f"gov_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    store = build(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), mapping)
    yield store
    store.engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
