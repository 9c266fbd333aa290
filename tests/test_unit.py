"""The unit of work: a state change and its ledger entry commit together; append_once survives retries."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.config import Settings, StoreConfig, sqlite_url
from governance.unit import Unit

HOLD = sa.table("retention_holds", sa.column("hold_id"))


def _settings(tmp_path: Path, ledger_url: str, state_url: str | None = None) -> Settings:
    return Settings(home=tmp_path, stores=(StoreConfig("default", sqlite_url(tmp_path / "store.db")),),
                    ledger_url=ledger_url, objects_url=(tmp_path / "objects").as_uri(), keys_dir=tmp_path / "keys",
                    state_url=state_url)


def _marker_table(unit: Unit) -> sa.Table:
    table = sa.Table("unit_test_changes", sa.MetaData(), sa.Column("name", sa.String(40), primary_key=True))
    table.create(unit.state, checkfirst=True)
    return table


EVENT = {"actor": "ig.alice", "action": "test.changed", "reason": "a fictional change", "record_ids": ["C-1"]}


def test_the_change_and_its_entry_commit_together_or_not_at_all(tmp_path: Path, db_url: str) -> None:
    with Unit.open(_settings(tmp_path, db_url)) as unit:
        changes = _marker_table(unit)
        assert unit.ledger_shares_state
        with unit.transaction() as work:
            work.conn.execute(changes.insert().values(name="kept"))
            seq = work.append(**EVENT)
        with pytest.raises(RuntimeError):
            with unit.transaction() as work:
                work.conn.execute(changes.insert().values(name="rolled-back"))
                work.append(**{**EVENT, "record_ids": ["C-2"]})
                raise RuntimeError("the task died here")
        assert [e.record_ids for e in unit.ledger.entries()] == [("C-1",)] and seq == 1
        with unit.state.connect() as conn:
            assert list(conn.execute(sa.select(changes.c.name)).scalars()) == ["kept"]


def test_append_once_writes_one_entry_however_often_a_task_is_retried(tmp_path: Path, db_url: str) -> None:
    with Unit.open(_settings(tmp_path, db_url)) as unit:
        seqs = []
        for _ in range(3):
            with unit.transaction() as work:
                seqs.append(work.append_once(key="disclosed:sar-1", **EVENT))
                work.append_once(key="disclosed:sar-1", **EVENT)  # twice in one try, too
        assert seqs == [1, 1, 1] and len(list(unit.ledger.entries())) == 1
        with unit.transaction() as work:  # another key, or another action, is another entry
            assert work.append_once(key="disclosed:sar-10", **EVENT) == 2


def test_with_a_separate_ledger_the_entry_follows_the_commit_and_retries_find_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, sqlite_url(tmp_path / "ledger.db"), sqlite_url(tmp_path / "state.db"))
    with Unit.open(settings) as unit:
        assert not unit.ledger_shares_state
        with unit.transaction() as work:
            assert work.append_once(key="k1", **EVENT) is None  # queued until the state commits
        assert work.seqs == {"k1": 1}
        with pytest.raises(RuntimeError):
            with unit.transaction() as work:
                work.append_once(key="k2", **EVENT)
                raise RuntimeError("rolled back: no entry")
        with unit.transaction() as work:
            assert work.append_once(key="k1", **EVENT) == 1
        assert [e.details.get("once") for e in unit.ledger.entries()] == ["k1"]


def test_append_once_now_knows_its_seq_inside_the_transaction_and_a_retry_finds_it(tmp_path: Path,
                                                                                   db_url: str) -> None:
    """With a separate ledger the entry is recorded first: the state may roll back, the retry finds the entry."""
    settings = _settings(tmp_path, db_url, sqlite_url(tmp_path / "state.db"))
    with Unit.open(settings) as unit:
        changes = _marker_table(unit)
        assert not unit.ledger_shares_state
        with pytest.raises(RuntimeError):
            with unit.transaction() as work:
                work.conn.execute(changes.insert().values(name="disclosed"))
                assert work.append_once_now(key="disclosed:sar-1", **EVENT) == 1  # known now: a row can name it
                raise RuntimeError("the worker died before the state committed")
        with unit.transaction() as work:
            work.conn.execute(changes.insert().values(name="disclosed"))
            assert work.append_once_now(key="disclosed:sar-1", **EVENT) == 1
        assert [e.details["once"] for e in unit.ledger.entries()] == ["disclosed:sar-1"]
        with unit.state.connect() as conn:
            assert list(conn.execute(sa.select(changes.c.name)).scalars()) == ["disclosed"]


def test_append_once_now_in_the_state_database_rolls_back_with_the_change(tmp_path: Path, db_url: str) -> None:
    with Unit.open(_settings(tmp_path, db_url)) as unit:
        with pytest.raises(RuntimeError):
            with unit.transaction() as work:
                work.append_once_now(key="k", **EVENT)
                raise RuntimeError("rolled back")
        assert list(unit.ledger.entries()) == []
        with unit.transaction() as work:
            assert work.append_once_now(key="k", **EVENT) == work.append_once_now(key="k", **EVENT) == 1


def test_finding_an_earlier_entry_reads_only_entries_of_its_action(tmp_path: Path) -> None:
    """The once-lookup uses the (action, seq) index, so its cost does not grow with the whole ledger."""
    with Unit.open(_settings(tmp_path, sqlite_url(tmp_path / "ledger.db"))) as unit:
        with unit.transaction() as work:
            work.append_once(key="disclosed:sar-1", **EVENT)
        statements: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            if "ledger_entries" in statement and "details" in statement:
                statements.append((statement, parameters))

        sa.event.listen(unit.ledger.engine, "before_cursor_execute", capture)
        assert unit.find_once("test.changed", "disclosed:sar-1") == 1
        sa.event.remove(unit.ledger.engine, "before_cursor_execute", capture)
        assert statements
        with unit.ledger.engine.connect() as conn:
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1]))
        assert "ix_ledger_entries_action_seq" in plan, plan
