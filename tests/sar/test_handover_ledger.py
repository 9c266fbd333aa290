"""Handing over a delivered bundle is recorded: one ``sar.handed_over`` entry per hand-over, on SQLite and PostgreSQL.

Also a SAR step on a ledger in another database than the state tables (the
unit of work's "recorded first" path): a delivery that dies after its ledger
entry was written and before its state committed is retried, commits, and the
ledger still holds one ``sar.disclosed`` entry, the one the disclosure row names.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.config import sqlite_url
from governance.jobs import sar as jobs
from governance.jobs.handover import HANDED_OVER_ACTION, hand_over
from governance.sar import register, tables
from governance.state import state_engine
from governance.stores.seeding import seed_store
from governance.unit import Unit
from tests.sar.conftest import make_settings
from tests.sar.test_bundle import SUBJECT, _answer, _canaries

AT = datetime(2026, 6, 22, 9, 0, tzinfo=timezone.utc)


def _entries(settings, action: str) -> list:
    with Unit.open(settings) as unit:
        assert unit.ledger.verify().ok
        return [e for e in unit.ledger.entries() if e.action == action]


def test_a_hand_over_writes_one_ledger_entry_however_often_it_is_retried(settings, tmp_path: Path) -> None:
    seed_store(settings, families=12, seed=7)
    rid, _pack, results = _answer(settings)
    assert _entries(settings, HANDED_OVER_ACTION) == []  # delivery alone hands nothing over

    first = hand_over(settings, rid, at=AT, actor="cli:records.officer", out=tmp_path / "desk")
    [entry] = _entries(settings, HANDED_OVER_ACTION)
    assert first["ledger_seq"] == entry.seq and entry.actor == "cli:records.officer"
    assert entry.record_ids == (rid,) and entry.store == "default" and entry.counts == {"files": 2}
    assert entry.details["key_id"] == results["build"]["key_id"] == first["key_id"]
    assert entry.details["package_key"] == f"sar/{rid}/bundle.enc"
    entry_text = json.dumps(entry.to_dict())
    assert not any(c in entry_text for c in _canaries(settings)), "personal data in the hand-over entry"
    key_hex = Path(first["key_file"]).read_text().splitlines()[-1]
    assert key_hex not in entry_text, "the bundle's key in the ledger"

    # The same key and link again (a retried task, a second copy of the files): the same hand-over.
    again = hand_over(settings, rid, at=AT, actor="cli:records.officer", out=tmp_path / "again")
    assert again["ledger_seq"] == entry.seq and len(_entries(settings, HANDED_OVER_ACTION)) == 1


@pytest.fixture
def separate_settings(tmp_path: Path, db_url: str):
    """Store and ledger in ``db_url`` (SQLite, then PostgreSQL); the state tables in their own SQLite file."""
    settings = dataclasses.replace(make_settings(tmp_path / "var", db_url), state_url=sqlite_url(tmp_path / "state.db"))
    with Unit.open(settings) as unit:
        assert not unit.ledger_shares_state
    return settings


def test_on_a_separate_ledger_a_delivery_that_died_before_its_commit_is_recorded_once(
        separate_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = separate_settings
    seed_store(settings, families=12, seed=7)

    def killed(*args, **kwargs):  # the worker dies after the entry, before the disclosure commits
        raise RuntimeError("worker killed")

    real_record = register.record_disclosure
    monkeypatch.setattr(register, "record_disclosure", killed)
    with pytest.raises(RuntimeError, match="worker killed"):
        _answer(settings)  # lodged, reviewed, built; the delivery dies
    [written_first] = _entries(settings, "sar.disclosed")  # recorded first: the ledger is not in this transaction
    with state_engine(settings).connect() as conn:
        rid = conn.execute(sa.select(tables.requests.c.request_id)).scalar_one()
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.disclosures)).scalar_one() == 0
        assert register.get_request(conn, rid)["status"] == "approved"  # the state change rolled back

    monkeypatch.setattr(register, "record_disclosure", real_record)
    delivered = jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")  # the retry
    assert delivered["status"] == "delivered" and delivered["ledger_seq"] == written_first.seq
    assert [e.seq for e in _entries(settings, "sar.disclosed")] == [written_first.seq]
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(tables.disclosures.c.ledger_seq)).scalar_one() == written_first.seq
        assert register.get_request(conn, rid)["status"] == "delivered"
    # And the other steps, retried, append nothing more.
    again = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                               actor="test", request_id=rid)
    assert [e.seq for e in _entries(settings, "sar.lodged")] == [again["ledger_seq"]]
