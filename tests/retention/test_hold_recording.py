"""A hold and its ledger entry: never a lifted hold the ledger does not show (SQLite and PostgreSQL).

Before, the hold row committed on its own and the entry was appended after;
a crash or a ledger failure in between lifted a hold with no trace in the
ledger, and the next sweep destroyed its cases with nothing to show why the
hold no longer applied. Now (governance/jobs/holds.py) the row and the entry
commit together when the ledger shares the state database, and with a separate
ledger the lift is entered before it commits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from governance.config import sqlite_url
from governance.jobs import holds
from governance.ledger import Ledger
from governance.retention.holds import active_holds
from governance.state import state_engine
from governance.unit import Work

from tests.retention.safety_world import case_exists, case_history, cli_env, ledger_entries, run_cli

SCOPE = dict(kind="litigation", source="Family court, case FD26P00512", reason="disclosure ordered",
             placed_on=date(2026, 11, 20), review_on=date(2027, 5, 20), placed_by="legal.services", store="default")


def _in_force(settings) -> list[str]:
    return [h.hold_id for h in active_holds(state_engine(settings), "default", date(2026, 12, 6))]


def _failing(monkeypatch, method: str) -> None:
    real = getattr(Work, method)

    def then_fail(self, **kwargs):  # type: ignore[no-untyped-def]
        real(self, **kwargs)
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(Work, method, then_fail)


def test_a_lift_whose_entry_fails_leaves_the_hold_in_force(world, monkeypatch):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    hold, _ = holds.place(settings, actor="cli:legal", scope={"case_ids": [case]}, **SCOPE)
    def ledger_down(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("ledger database unreachable")

    monkeypatch.setattr(Ledger, "append_many", ledger_down)
    with pytest.raises(RuntimeError):
        holds.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 12, 6))
    assert _in_force(settings) == [hold.hold_id]
    assert [e.action for e in ledger_entries(settings) if e.action.startswith("retention.hold.")] == \
        ["retention.hold.placed"]


def test_a_placed_hold_and_its_entry_commit_together(world, monkeypatch):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    _failing(monkeypatch, "append_once")
    with pytest.raises(RuntimeError):
        holds.place(settings, actor="cli:legal", scope={"case_ids": [case]}, **SCOPE)
    assert _in_force(settings) == []  # rolled back with its entry: the clerk sees the error and places it again
    assert not [e for e in ledger_entries(settings) if e.action.startswith("retention.hold.")]


def test_with_a_separate_ledger_a_lift_is_entered_before_it_commits_and_once(world, monkeypatch, tmp_path):
    settings, b = world
    settings = replace(settings, state_url=settings.ledger_url, ledger_url=sqlite_url(tmp_path / "own-ledger.db"))
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    hold, placed_seq = holds.place(settings, actor="cli:legal", scope={"case_ids": [case]}, **SCOPE)
    assert placed_seq == 1
    with monkeypatch.context() as patched:
        _failing(patched, "append_once_now")
        with pytest.raises(RuntimeError):
            holds.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 12, 6))
    assert _in_force(settings) == [hold.hold_id]  # the state never committed: the hold still keeps its case
    seq = holds.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 12, 6))
    lifted = [e for e in ledger_entries(settings) if e.action == "retention.hold.lifted"]
    assert _in_force(settings) == [] and len(lifted) == 1 and lifted[0].seq == seq
    with sa.create_engine(settings.state_database_url).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM retention_holds")).scalar() == 1


def test_a_mistyped_ledger_url_stops_the_sweep_before_it_sees_no_holds(world, monkeypatch, tmp_path):
    """Found from outside: a typo in GOVERNANCE_LEDGER_URL made a new, empty ledger and state database
    beside it; the sweep saw no hold and destroyed the held case. A named database must exist."""
    settings, b = world
    case, _, _ = case_history(b, opened=date(2012, 4, 11), closed=date(2014, 3, 29))
    holds.place(settings, actor="cli:legal", scope={"case_ids": [case]}, **SCOPE)
    cli_env(monkeypatch, settings)
    typo = tmp_path / "ledgr" / "ledger.db"
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", sqlite_url(typo))
    monkeypatch.delenv("GOVERNANCE_STATE_URL")  # the state database follows the ledger, as by default
    code, out, err = run_cli("retention", "sweep", "--store", "default", "--created-by", "ig.alice",
                             "--approved-by", "ig.bob", "--quality-max-age-hours", "0", "--as-of", "2026-12-01")
    assert code == 2 and "does not exist: jobs never create one" in err and "\n" not in err.strip(), err
    assert not typo.exists() and case_exists(settings, case)
