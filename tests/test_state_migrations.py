"""The state tables' Alembic chain on real SQLite and PostgreSQL: matches the model,
upgrades databases made by the old ``create_all``, is idempotent and safe
concurrently, and leaves the ledger's tables (and a case store's) alone."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from governance import state
from governance.db import make_engine
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.ledger import schema as ledger_schema

state.load_table_modules()


def _state_differences(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": state.VERSION_TABLE, "include_name": state.is_state_name})
        return compare_metadata(context, state.METADATA)


def _versions(engine: sa.Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT version_num FROM {table}")).scalars().all()


def _index_names(engine: sa.Engine, table: str) -> set[str]:
    return {index["name"] for index in sa.inspect(engine).get_indexes(table)}


def test_migrated_database_matches_the_model(db_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(state.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == state.HEAD_REVISION
    engine = make_engine(db_url)
    state.ensure_schema(engine)
    assert set(state.METADATA.tables) <= set(sa.inspect(engine).get_table_names())
    # A model change without a migration shows up here.
    assert _state_differences(engine) == []
    assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
    engine.dispose()


def test_database_made_by_create_all_is_upgraded_keeping_its_rows(db_url: str) -> None:
    from governance.retention.tables import holds
    from governance.sar.tables import records, requests

    engine = make_engine(db_url)
    state.METADATA.create_all(engine)
    with engine.begin() as conn:
        # As an earlier version left it: no index on sar_records.case_id, and
        # sar_requests from before the access-request columns.
        conn.execute(sa.text("DROP INDEX ix_sar_records_case"))
        conn.execute(sa.text("ALTER TABLE sar_requests DROP COLUMN deadline"))
        conn.execute(records.insert(), [{"request_id": "R1", "entity": "casenote", "record_id": "N1",
                                         "case_id": "C1", "text_sha256": "a" * 64}])
        conn.execute(sa.text(
            "INSERT INTO sar_requests (request_id, store, subject_person_id, status, received_on, created_at) "
            "VALUES ('R1', 'default', 'P1', 'received', :day, :at)"),
            {"day": date(2026, 1, 5), "at": datetime(2026, 1, 5, 9, tzinfo=timezone.utc)})
        conn.execute(holds.insert(), [{"hold_id": "H1", "kind": "litigation", "source": "court", "reason": "claim",
                                       "scope": "{}", "placed_on": date(2026, 1, 1), "review_on": date(2027, 1, 1),
                                       "placed_by": "ig"}])
    assert "ix_sar_records_case" not in _index_names(engine, "sar_records")
    assert _state_differences(engine) != []  # the comparison does see what an old database lacks

    state.ensure_schema(engine)

    assert "ix_sar_records_case" in _index_names(engine, "sar_records")
    assert _state_differences(engine) == []
    assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
    with engine.connect() as conn:
        assert conn.execute(sa.select(records.c.case_id)).scalars().all() == ["C1"]
        assert conn.execute(sa.select(requests.c.subject_person_id, requests.c.deadline)).all() == [("P1", None)]
        assert conn.execute(sa.select(holds.c.hold_id)).scalars().all() == ["H1"]
    engine.dispose()


def test_a_failed_upgrade_leaves_nothing_behind(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        # An old table lacking a NOT NULL column cannot be completed automatically.
        conn.execute(sa.text("CREATE TABLE retention_tombstones (store VARCHAR(40), entity VARCHAR(40), "
                             "token VARCHAR(64), PRIMARY KEY (store, entity, token))"))
    with pytest.raises(RuntimeError, match="retention_tombstones lacks NOT NULL column batch_id"):
        state.ensure_schema(engine)
    # One transaction: the tables made before the failure went with it.
    assert set(sa.inspect(engine).get_table_names()) == {"retention_tombstones"}
    engine.dispose()


def test_second_ensure_schema_only_reads(db_url: str) -> None:
    engine = make_engine(db_url)
    state.ensure_schema(engine)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    state.ensure_schema(engine)
    assert statements, "the version was checked"
    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")
    assert [s for s in statements if s.lstrip().upper().startswith(writes) or "advisory" in s] == []
    assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
    engine.dispose()


def test_concurrent_first_opens_both_succeed(db_url: str) -> None:
    # One engine each, as two processes would have; db_url is a database nobody has opened yet.
    engines = [make_engine(db_url) for _ in range(2)]
    barrier = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def open_one(engine: sa.Engine) -> None:
        barrier.wait()
        try:
            state.ensure_schema(engine)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _versions(engines[0], state.VERSION_TABLE) == [state.HEAD_REVISION]
    assert _state_differences(engines[0]) == []
    for engine in engines:
        engine.dispose()


# A process that imports everything, says it is ready, and opens the state schema when told.
_OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
from governance.db import make_engine
from governance.state import ensure_schema
engine = make_engine(sys.argv[1])
Path(sys.argv[2]).touch()
while not Path(sys.argv[3]).exists():
    time.sleep(0.002)
ensure_schema(engine)
"""


def test_concurrent_first_opens_in_two_processes_both_succeed(db_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_WHEN_TOLD, db_url, str(flag), str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outcomes = [(process.wait(timeout=120), process.communicate()[1][-2000:]) for process in processes]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    engine = make_engine(db_url)
    assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
    assert _state_differences(engine) == []
    engine.dispose()


def _ledger_shape(engine: sa.Engine) -> dict:
    inspector = sa.inspect(engine)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(name)),
            inspector.get_pk_constraint(name)["constrained_columns"],
        )
        for name in sorted(ledger_schema.metadata.tables)
    }


@pytest.mark.parametrize("first", ["ledger", "state"])
def test_ledger_and_case_store_tables_are_left_alone(db_url: str, tmp_path: Path, first: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        # A case store's table sharing a state prefix (the reference mapping has one).
        conn.execute(sa.text("CREATE TABLE sharing_records (id VARCHAR(20) PRIMARY KEY, partner VARCHAR(40))"))
        conn.execute(sa.text("INSERT INTO sharing_records VALUES ('S1', 'school')"))
    if first == "state":
        state.ensure_schema(engine)
    ledger = Ledger.open(db_url, KeyStore(tmp_path / "keys"), checkpoint_every=2)
    ledger.append(actor="test", action="state.test", record_ids=["C1"], counts={"cases": 1})
    ledger_before = _ledger_shape(engine)

    state.ensure_schema(engine)

    assert _ledger_shape(engine) == ledger_before
    assert _versions(engine, ledger_schema.VERSION_TABLE) == [ledger_schema.HEAD_REVISION]
    assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
    report = ledger.verify()
    assert report.ok and report.entries == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, partner FROM sharing_records")).all() == [("S1", "school")]
        ledger_context = MigrationContext.configure(conn, opts={
            "version_table": ledger_schema.VERSION_TABLE,
            "include_name": lambda name, type_, _: type_ != "table" or name in ledger_schema.metadata.tables,
        })
        assert compare_metadata(ledger_context, ledger_schema.metadata) == []
    # The state comparison ignores the ledger's and the case store's tables, yet still sees all of its own.
    assert _state_differences(engine) == []
    ledger.close()
    engine.dispose()


def test_ledger_and_state_chains_migrate_from_threads_of_one_process(tmp_path: Path) -> None:
    # Alembic keeps the running migration in module globals: without governance.db.ALEMBIC_RUN_LOCK
    # a ledger's and a state chain's first runs in two threads ran each other's operations.
    keys = KeyStore(tmp_path / "keys")
    errors: list[BaseException] = []
    urls = {n: f"sqlite:///{tmp_path / f'{kind}-{n}.db'}" for n, kind in enumerate(["ledger", "state"] * 4)}

    def migrate(n: int, url: str) -> None:
        try:
            if n % 2 == 0:
                Ledger.open(url, keys).close()
            else:
                state.ensure_schema(make_engine(url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=item) for item in urls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for n, url in urls.items():
        engine = make_engine(url)
        tables = set(sa.inspect(engine).get_table_names())
        if n % 2 == 0:
            assert _versions(engine, ledger_schema.VERSION_TABLE) == [ledger_schema.HEAD_REVISION]
            assert not tables & set(state.METADATA.tables)
        else:
            assert _versions(engine, state.VERSION_TABLE) == [state.HEAD_REVISION]
            assert set(state.METADATA.tables) <= tables and "ledger_entries" not in tables
        engine.dispose()
