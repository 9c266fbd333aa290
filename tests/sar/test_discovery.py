"""Discovery: every place searched is logged, with counts; research and ledger; objects under each case."""

from __future__ import annotations

import importlib.util

from governance.config import StoreConfig
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.sar import discovery
from governance.sar.discovery import discover, research_lookup
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store

SUBJECT = "P000000000"


def _store(tmp_path):
    store = CaseStore.open(StoreConfig("default", f"sqlite:///{tmp_path / 'store.db'}"))
    objects = open_object_store((tmp_path / "objects").as_uri())
    generate_store(store, objects, families=8, seed=4, clean=True)
    return store, objects


def test_search_log_names_every_place_and_what_was_found(tmp_path) -> None:
    store, objects = _store(tmp_path)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}", KeyStore(tmp_path / "keys"))
    found0 = discover(store, objects, SUBJECT)
    case_id = found0.case_ids[0]
    ledger.append(actor="test", action="retention.reviewed", record_ids=[case_id])
    ledger.append(actor="test", action="other.thing", record_ids=["C99999999"])
    # An object nobody linked, and a document whose object has gone.
    doc = found0.by_entity("document")[0]
    prefix = doc.meta["object_key"].rsplit("/", 1)[0]
    objects.put(f"{prefix}/stray.txt", b"unlinked")
    objects.delete(doc.meta["object_key"])

    found = discover(store, objects, SUBJECT, ledger_engine=ledger.engine, research=lambda pid: ["study-1"])
    ledger.close()

    store_targets = {e.target: e.found for e in found.searches if e.source == "store"}
    assert {"people", "case_members", "cases", "casenotes", "documents", "consents", "sharing_records",
            "file_access_log"} <= set(store_targets)
    assert store_targets["casenotes"] == found.counts()["casenote"] > 0
    object_entries = [e for e in found.searches if e.source == "objects"]
    assert any(e.note and "not linked" in e.note for e in object_entries)
    assert any(e.note and "missing" in e.note for e in object_entries)
    assert [r.meta["content"] for r in found.by_entity("document") if r.record_id == doc.record_id] == ["missing"]
    assert [r.meta["action"] for r in found.by_entity("ledger_entry")] == ["retention.reviewed"]
    assert [r.record_id for r in found.by_entity("research_study")] == ["study-1"]
    # Every searched place is evidence: identifiers in the criteria, never content.
    for entry in found.searches:
        assert found.subject["given_name"] not in entry.criterion + (entry.note or "")


def test_research_not_installed_is_logged(tmp_path, monkeypatch) -> None:
    store, objects = _store(tmp_path)
    real = importlib.util.find_spec
    monkeypatch.setattr(discovery.importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("governance.research") else real(name, *a))
    assert research_lookup(None, "default") is None
    found = discover(store, objects, SUBJECT, research=research_lookup(None, "default"))
    notes = [e.note for e in found.searches if e.source == "research"]
    assert notes == ["research: not installed"]
