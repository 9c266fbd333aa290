"""A small hand-built world for pinning retention rules exactly.

``world`` gives Settings whose case store, state and ledger live in the test's
database (SQLite or PostgreSQL via ``db_url``), and a ``Builder`` that inserts
fictional families and cases with precisely the dates a rule needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from governance.config import Settings, StoreConfig
from governance.state import state_engine
from governance.stores.store import CaseStore


@dataclass
class Builder:
    store: CaseStore
    objects_root: Path
    _n: int = 0
    documents: dict[str, str] = field(default_factory=dict)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:05d}"

    def family(self) -> str:
        fid = self._id("F")
        self._insert("family", {"id": fid, "household_name": "Test household"})
        return fid

    def person(self, family_id: str | None, role: str, dob: date | None = None, died: date | None = None) -> str:
        pid = self._id("P")
        self._insert("person", {"id": pid, "family_id": family_id, "role": role, "given_name": "Testname",
                                "family_name": "Testfamily", "date_of_birth": dob, "date_of_death": died})
        return pid

    def case(self, family_id: str, case_type: str = "early_help", *, opened: date | None = date(2015, 1, 5),
             closed: date | None = date(2019, 1, 10), status: str | None = None, members: tuple = (),
             reopened: date | None = None, re_referral_of: str | None = None, notes: int = 2, documents: int = 1,
             **extra) -> str:
        cid = self._id("C")
        self._insert("case", {"id": cid, "family_id": family_id, "case_type": case_type,
                              "status": status or ("closed" if closed else "open"), "opened_on": opened,
                              "closed_on": closed, "closure_reason": "needs met" if closed else None,
                              "reopened_on": reopened, "re_referral_of": re_referral_of,
                              "last_activity_on": closed, **extra})
        for person_id, role in members:
            self._insert("case_member", {"id": self._id("M"), "case_id": cid, "person_id": person_id, "role": role})
        for _ in range(notes):
            self._insert("casenote", {"id": self._id("N"), "case_id": cid, "written_on": opened or date(2015, 1, 5),
                                      "title": "Home visit", "body": "Fictional note text."})
        for _ in range(documents):
            did = self._id("D")
            key = f"stores/{self.store.name}/cases/{cid}/{did}.txt"
            self.documents[did] = key
            self._insert("document", {"id": did, "case_id": cid, "object_key": key, "title": "Assessment",
                                      "created_on": opened or date(2015, 1, 5)})
        consent = self._id("K")
        self._insert("consent", {"id": consent, "family_id": family_id, "case_id": cid, "given_on": opened or date(2015, 1, 5),
                                 "consent_to_approach": True, "consent_to_share": True})
        self._insert("consent_opt_out", {"id": self._id("O"), "consent_id": consent, "agency": "housing"})
        self._insert("sharing_record", {"id": self._id("S"), "case_id": cid, "shared_on": opened or date(2015, 1, 5),
                                        "information": "plan", "recipient_agency": "health", "purpose": "support",
                                        "decision": "shared", "lawful_basis": "consent"})
        return cid

    def simple(self, case_type: str = "early_help", **kw) -> tuple[str, str, str]:
        """A family with one child and one parent on one case: (case, child, parent)."""
        fid = self.family()
        child = self.person(fid, "subject_child", dob=kw.pop("child_dob", date(2010, 5, 1)))
        parent = self.person(fid, "parent_carer", dob=date(1985, 3, 3))
        cid = self.case(fid, case_type, members=((child, "subject_child"), (parent, "parent_carer")), **kw)
        return cid, child, parent

    def _insert(self, entity: str, row: dict) -> None:
        with self.store.engine.begin() as conn:
            self.store.insert(conn, entity, [row])


@pytest.fixture
def world(db_url, tmp_path, monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    settings = Settings(
        home=tmp_path, stores=(StoreConfig("default", db_url, "reference"),), ledger_url=db_url,
        objects_url=(tmp_path / "objects").as_uri(), keys_dir=tmp_path / "keys",
    )
    store = CaseStore.open(settings.store("default"))
    store.create_schema()
    state_engine(settings)
    builder = Builder(store, tmp_path / "objects")
    yield settings, builder
    store.engine.dispose()
