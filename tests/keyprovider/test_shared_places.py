"""Issue 15 #6: study specs and ledger export bundles live in object storage, not on a worker's disk."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from governance.config import Settings
from governance.jobs import foundation
from governance.ledger import Ledger
from governance.jobs.research import plan
from governance.ledger.bundle import verify_bundle
from governance.research.demo import demo_spec
from governance.research.errors import SpecError
from governance.stores.seeding import open_objects


def _deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Settings:
    monkeypatch.setenv("GOVERNANCE_MASTER_KEY", os.urandom(32).hex())
    shared = tmp_path / "shared"
    shared.mkdir(exist_ok=True)
    Ledger.open(f"sqlite:///{shared / 'ledger.db'}", None).close()  # made once, as keys init does
    return Settings.from_env({
        "GOVERNANCE_HOME": str(tmp_path / name), "GOVERNANCE_KEY_PROVIDER": "env",
        "GOVERNANCE_LEDGER_URL": f"sqlite:///{shared / 'ledger.db'}",
        "GOVERNANCE_STORE_DEFAULT_URL": f"sqlite:///{shared / 'store.db'}",
        "GOVERNANCE_OBJECTS_URL": (shared / "objects").as_uri(),
    })


def test_a_study_spec_put_in_object_storage_is_registered_by_any_worker(tmp_path, monkeypatch) -> None:
    (tmp_path / "shared").mkdir()
    settings = _deployment(tmp_path, monkeypatch, "worker-b")
    spec = {**demo_spec(), "id": "EH-RETURNS-2026"}
    open_objects(settings).put("research/studies/eh-returns.json", json.dumps(spec).encode())
    planned = plan(settings, as_of=date(2026, 6, 30), actor="test")
    assert planned["registered"] == ["EH-RETURNS-2026"] and planned["build"] == ["EH-RETURNS-2026"]
    assert not (tmp_path / "worker-b" / "research").exists()


def test_a_broken_spec_in_object_storage_names_its_key(tmp_path, monkeypatch) -> None:
    (tmp_path / "shared").mkdir()
    settings = _deployment(tmp_path, monkeypatch, "worker-a")
    open_objects(settings).put("research/studies/broken.toml", b"id = [unclosed")
    with pytest.raises(SpecError, match=r"study spec research/studies/broken.toml: not valid toml"):
        plan(settings, as_of=date(2026, 6, 30), actor="test")


def test_a_deployment_keeps_the_verified_ledger_bundle_in_object_storage(tmp_path, monkeypatch) -> None:
    (tmp_path / "shared").mkdir()
    settings = _deployment(tmp_path, monkeypatch, "worker-a")
    foundation.record_event(settings, action="platform.test", actor="test", reason="a fictional event")
    directory = foundation.export_directory(settings, "manual__2026-06-30")
    result = foundation.export_and_verify_ledger(settings, directory=directory)
    objects = open_objects(settings)
    assert result["bundle_uri"] == f"{objects.uri}/ledger-exports/{directory.name}/" and "bundle_path" not in result
    assert not directory.exists()  # the worker's copy was scratch
    copy = tmp_path / "auditor" / directory.name
    for key in objects.list(f"ledger-exports/{directory.name}/"):
        target = copy / key.removeprefix(f"ledger-exports/{directory.name}/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(objects.get(key))
    assert verify_bundle(copy).ok
