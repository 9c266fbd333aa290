"""Ledger behaviour on real SQLite and PostgreSQL: chain, checkpoints, transactions, concurrency."""

from __future__ import annotations

import hashlib
import random
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config

from governance.errors import KeyMaterialError, LedgerError
from governance.keys import KeyStore
from governance.ledger.signing import LedgerSigner
from governance.ledger import GENESIS_HASH, Ledger, canonical
from governance.ledger.schema import HEAD_REVISION, MIGRATIONS_DIR, VERSION_TABLE, metadata

_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


@pytest.fixture
def ledger(db_url: str, keys: KeyStore) -> Iterator[Ledger]:
    opened = Ledger.open(db_url, keys, checkpoint_every=5)
    yield opened
    opened.close()


def _independent_hash(entry) -> str:
    """Recompute an entry hash from the documented rule, not the library's fast path."""
    return hashlib.sha256(b"\x00" + entry.prev_hash.encode() + b"\n" + canonical(entry.body()).encode()).hexdigest()


def test_append_builds_a_chain_from_genesis(ledger: Ledger) -> None:
    first = ledger.append(actor="retention-job", action="record.destroyed", rule="CS-25Y", store="default",
                          record_ids=["case-1", "doc:2/a.pdf"], counts={"records": 2},
                          details={"object_key": "cases/1/a.pdf", "versions": [1, 2], "dry_run": False})
    second = ledger.append(actor="dpo", action="note", reason="quarterly review\nall fine")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.entry_hash
    assert _STAMP.match(first.recorded_at)
    for entry in (first, second):
        assert entry.entry_hash == _independent_hash(entry)
    assert ledger.head() == second
    stored = list(ledger.entries())
    assert stored == [first, second]
    assert stored[0].record_ids == ("case-1", "doc:2/a.pdf")
    assert stored[0].details == {"dry_run": False, "object_key": "cases/1/a.pdf", "versions": [1, 2]}
    assert ledger.verify().ok


def test_as_of_sets_recorded_at_and_naive_times_are_refused(ledger: Ledger) -> None:
    moment = datetime(2031, 3, 4, 5, 6, 7, 89, tzinfo=timezone(timedelta(hours=2)))
    entry = ledger.append(actor="a", action="b", as_of=moment)
    assert entry.recorded_at == "2031-03-04T03:06:07.000089Z"
    with pytest.raises(LedgerError, match="timezone-aware"):
        ledger.append(actor="a", action="b", as_of=datetime(2031, 3, 4))
    assert ledger.head().seq == 1


def test_entries_streams_a_range(ledger: Ledger) -> None:
    ledger.append_many([{"actor": "job", "action": "tick", "counts": {"i": i}} for i in range(12)])
    assert [e.seq for e in ledger.entries(4, 7)] == [4, 5, 6]
    assert [e.counts["i"] for e in ledger.entries(11)] == [10, 11]
    assert list(ledger.entries(13)) == []


def test_checkpoints_every_n_and_on_demand(ledger: Ledger, keys: KeyStore) -> None:
    assert ledger.checkpoint() is None  # empty ledger: nothing to seal
    ledger.append_many([{"actor": "job", "action": "tick"} for _ in range(12)])
    assert [cp.seq for cp in ledger.checkpoints()] == [5, 10]
    sealed = ledger.checkpoint()
    assert sealed is not None and sealed.seq == 12 and sealed.head == ledger.head().entry_hash
    assert sealed.key_id == LedgerSigner(keys.keys_dir).key_id()
    assert ledger.checkpoint() is None  # head already sealed
    for _ in range(3):
        ledger.append(actor="job", action="tick")
    assert [cp.seq for cp in ledger.checkpoints()] == [5, 10, 12, 15]
    report = ledger.verify()
    assert report.ok and report.checkpoints == 4 and report.unsealed == 0
    ledger.append(actor="job", action="tick")
    assert ledger.verify().unsealed == 1


def test_append_inside_a_callers_transaction_commits_or_rolls_back_with_it(ledger: Ledger) -> None:
    engine = sa.create_engine(ledger.engine.url)
    try:
        with pytest.raises(RuntimeError):
            with engine.begin() as conn:
                ledger.append_many([{"actor": "job", "action": "destroy"} for _ in range(7)], connection=conn)
                assert conn.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar() == 7
                raise RuntimeError("the chunk failed")
        assert ledger.head() is None and ledger.checkpoints() == []
        with engine.begin() as conn:
            entry = ledger.append(actor="job", action="destroy", connection=conn)
            ledger.checkpoint(connection=conn)
        assert ledger.head() == entry and [cp.seq for cp in ledger.checkpoints()] == [1]
    finally:
        engine.dispose()
    assert ledger.verify().ok


def test_connection_to_another_database_is_refused(ledger: Ledger, tmp_path: Path) -> None:
    other = sa.create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with other.begin() as conn, pytest.raises(LedgerError, match="not to the ledger database"):
        ledger.append(actor="a", action="b", connection=conn)
    other.dispose()


@pytest.mark.parametrize("engines", ["one-engine-each", "shared-engine"])
def test_two_threads_appending_never_fork_the_chain(db_url: str, keys: KeyStore, engines: str) -> None:
    first = Ledger.open(db_url, keys, checkpoint_every=50)
    ledgers = [first, Ledger.open(db_url, keys, checkpoint_every=50) if engines == "one-engine-each" else first]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(ledger: Ledger, name: str) -> None:
        barrier.wait()
        try:
            for i in range(200):
                ledger.append(actor=name, action="tick", counts={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ledger, f"worker-{n}")) for n, ledger in enumerate(ledgers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = ledgers[0].verify()
    assert report.ok and report.entries == 400 and report.checkpoints == 8
    actors = [e.actor for e in ledgers[0].entries()]
    assert actors.count("worker-0") == actors.count("worker-1") == 200
    for ledger in ledgers:
        ledger.close()


def test_open_is_idempotent_and_safe_concurrently(db_url: str, keys: KeyStore) -> None:
    opened: list[Ledger] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(Ledger.open(db_url, keys))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 3
    again = Ledger.open(db_url, keys)
    with again.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [HEAD_REVISION]
        assert conn.execute(sa.text("SELECT count(*) FROM ledger_lock")).scalar() == 1
    for ledger in opened + [again]:
        ledger.close()


def test_migrations_match_the_table_definitions(ledger: Ledger) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []


def test_verify_survives_key_rotation(db_url: str, tmp_path: Path) -> None:
    signer = LedgerSigner(tmp_path / "keys")
    ledger = Ledger.open(db_url, signer, checkpoint_every=3)
    ledger.append_many([{"actor": "a", "action": "b"} for _ in range(4)])
    old = signer.key_id()
    old_print = signer.fingerprint()
    assert ledger.rotate_key(actor="dpo", reason="annual rotation")[0] == old
    new = signer.key_id()
    assert new != old and (tmp_path / "keys" / f"ledger-signing.{old}.retired.pem").is_file()
    rotation, activation = list(ledger.entries(5))
    assert rotation.action == "ledger.key.rotated" and rotation.details["new_key_id"] == new
    assert activation.action == "ledger.key.activated" and ledger.checkpoints()[-1].key_id == new
    ledger.append_many([{"actor": "a", "action": "b"} for _ in range(3)])
    report = ledger.verify()
    assert report.ok and set(report.key_ids) == {old, new} and report.head_key_id == new
    assert ledger.verify(expect_key_id=signer.fingerprint()).ok
    assert not ledger.verify(expect_key_id=old_print).ok
    ledger.close()


def test_random_unicode_content_verifies(ledger: Ledger) -> None:
    rng = random.Random(7)
    alphabet = list("abc XYZ_-") + ['"', "\\", "é", "中", "\U0001f600", "\u2028", "'", "<", "\t"]

    def text(n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n)).strip() or "x"

    events = [
        {"actor": text(10).replace("\t", " "), "action": text(8).replace("\t", " "),
         "reason": text(40) if rng.random() < 0.5 else None,
         "details": {"k": text(20).replace("\t", " "), "n": rng.randint(-(2**62), 2**62), "flag": rng.random() < 0.5}}
        for _ in range(60)
    ]
    entries = ledger.append_many(events)
    assert all(e.entry_hash == _independent_hash(e) for e in ledger.entries())
    assert [e.reason for e in ledger.entries()] == [e.reason for e in entries]
    assert ledger.verify().ok


@pytest.mark.parametrize(
    "event, message",
    [
        ({"actor": "", "action": "x"}, "actor must be a non-empty string"),
        ({"actor": "a", "action": None}, "action must be a non-empty string"),
        ({"actor": "a\x00b", "action": "x"}, "control characters"),
        ({"actor": "a", "action": "x", "record_ids": "case-1"}, "not a single string"),
        ({"actor": "a", "action": "x", "record_ids": ["Jane Smith"]}, r"record_ids\[0\] does not look like an identifier"),
        ({"actor": "a", "action": "x", "record_ids": ["ok", "x" * 129]}, r"record_ids\[1\]"),
        ({"actor": "a", "action": "x", "counts": {"n": 1.0}}, "non-negative 64-bit int"),
        ({"actor": "a", "action": "x", "counts": {"n": -1}}, "non-negative"),
        ({"actor": "a", "action": "x", "counts": {"n": True}}, "non-negative"),
        ({"actor": "a", "action": "x", "details": {"note": "y" * 513}}, "longer than 512"),
        ({"actor": "a", "action": "x", "details": {"v": 0.5}}, "must be a str, int, bool or None"),
        ({"actor": "a", "action": "x", "details": {"v": {"nested": 1}}}, "must be a str, int, bool or None"),
        ({"actor": "a", "action": "x", "details": {"bad key": 1}}, "details keys"),
        ({"actor": "a", "action": "x", "reason": "r" * 513}, "longer than 512"),
        ({"actor": "a", "action": "x", "colour": "red"}, "unknown ledger event field"),
    ],
)
def test_invalid_events_are_refused_without_echoing_values(sqlite_url: str, keys: KeyStore, event: dict, message: str) -> None:
    ledger = Ledger.open(sqlite_url, keys)
    with pytest.raises(LedgerError, match=message) as caught:
        ledger.append_many([{"actor": "ok", "action": "fine"}, event])
    assert "Jane" not in str(caught.value) and "yyyy" not in str(caught.value)
    assert ledger.head() is None  # the valid event in the batch was not written either
    ledger.close()


def test_read_only_ledger_cannot_append(sqlite_url: str, keys: KeyStore) -> None:
    Ledger.open(sqlite_url, keys).close()
    reader = Ledger.open(sqlite_url, None, create=False)
    with pytest.raises(LedgerError, match="without keys"):
        reader.append(actor="a", action="b")
    assert reader.verify().ok and reader.verify().entries == 0
    reader.close()


def test_missing_sqlite_ledger_with_create_false(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger database"):
        Ledger.open(f"sqlite:///{tmp_path / 'absent.db'}", None, create=False)
    assert not (tmp_path / "absent.db").exists()


def test_missing_postgres_ledger_with_create_false(postgres_url: str) -> None:
    with pytest.raises(LedgerError, match="no ledger tables"):
        Ledger.open(postgres_url, None, create=False)


def test_unreachable_database_is_one_line_ledger_error() -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2"
    with pytest.raises(LedgerError) as caught:
        Ledger.open(url, None)
    message = str(caught.value)
    assert "\n" not in message and "secret" not in message and "127.0.0.1:1" in message


def test_unusable_signing_key_fails_before_anything_is_written(sqlite_url: str, tmp_path: Path) -> None:
    keys_dir = tmp_path / "broken-keys"
    keys_dir.mkdir()
    (keys_dir / "ledger-signing.pem").write_text("not a key")
    with Ledger.open(sqlite_url, KeyStore(keys_dir)) as ledger:
        with pytest.raises(KeyMaterialError, match="ledger-signing.pem"):
            ledger.append(actor="a", action="b")
        assert ledger.head() is None


def test_a_read_only_copy_made_before_the_action_index_still_verifies(tmp_path: Path, keys: KeyStore) -> None:
    """0003 only adds an index: an auditor's read-only copy at 0002 verifies without an upgrade."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(url, keys, checkpoint_every=2) as ledger:
        ledger.append_many([{"actor": "retention-job", "action": "retention.destroyed"} for _ in range(5)])
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_ledger_entries_action_seq")
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '0002_sealed_tree'")
    engine.dispose()
    (tmp_path / "ledger.db").chmod(0o444)
    with Ledger.open(url, None, read_only=True, witness=None) as copy:
        assert copy.verify().ok
    (tmp_path / "ledger.db").chmod(0o644)
    with Ledger.open(url, keys) as ledger:  # opened to write, it is brought to head
        with ledger.engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD_REVISION
            assert "ix_ledger_entries_action_seq" in {i["name"] for i in sa.inspect(conn).get_indexes("ledger_entries")}
