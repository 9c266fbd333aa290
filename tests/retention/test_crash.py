"""Kill the executing process from outside at random instants; the store and ledger stay consistent.

Each trial copies a prepared world (a generated store, an approved batch of
single-case chunks, store and ledger in different SQLite files: the
intent/complete path), forks a process that executes the batch (forked after
imports, so the random kill lands in the work, not in interpreter start-up),
SIGKILLs it after a random delay, checks the invariants at that instant, runs
the execution again to completion and checks them again:

- nothing destroyed without a ledger entry: every case missing from the store
  is named by an intent (or destroyed) entry;
- no ledger entry claims a destruction that did not happen: every case named by
  a completion entry is gone from the store, with its objects;
- nothing done twice: one completion entry per chunk, and the ledger verifies.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.config import Settings
from governance.jobs import retention as jobs
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.stores.seeding import seed_store
from governance.stores.store import CaseStore

pytestmark = pytest.mark.slow

AS_OF = date(2026, 6, 30)
TRIALS = 24
COMPLETE = {"retention.destroy.complete", "retention.objects.destroyed"}
INTENT = {"retention.destroy.intent", "retention.destroy.intent_revised", "retention.destroyed"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    home = tmp_path_factory.mktemp("crash-world") / "var"
    settings = Settings.from_env({"GOVERNANCE_HOME": str(home)})
    seed_store(settings, "default", families=150, seed=21)
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", chunk_size=1)
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    assert proposed["due"] >= 30
    return home, proposed["batch_id"], proposed["due"]


def _run_batch(home: Path, batch_id: str, first_chunk_marker: Path | None = None) -> None:
    settings = Settings.from_env({"GOVERNANCE_HOME": str(home)})
    if first_chunk_marker is not None:
        # Calibration: note when the first chunk starts (CLOCK_MONOTONIC is shared across processes).
        from governance.retention import execute

        original = execute.execute_chunk

        def noting(*args, **kwargs):
            if not first_chunk_marker.exists():
                first_chunk_marker.write_text(repr(time.monotonic()))
            return original(*args, **kwargs)

        execute.execute_chunk = noting
        from governance.jobs import retention as job_module

        job_module.execute_chunk = noting
    jobs.execute_all(settings, batch_id, as_of=AS_OF, actor="ig.bob")


def _execute(home: Path, batch_id: str, first_chunk_marker: Path | None = None):
    """A separate process executing the batch (fork: no start-up time before the work)."""
    process = multiprocessing.get_context("fork").Process(target=_run_batch, args=(home, batch_id, first_chunk_marker))
    process.start()
    return process


def _observe(home: Path, batch_id: str):
    settings = Settings.from_env({"GOVERNANCE_HOME": str(home)})
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        report = ledger.verify()
        entries = [e for e in ledger.entries() if e.details.get("batch_id") == batch_id]
    finally:
        ledger.close()
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        present = set(conn.execute(sa.select(store.raw("case", "id"))).scalars())
        keys = {k for k in conn.execute(sa.select(store.raw("document", "object_key"))).scalars() if k}
    store.engine.dispose()
    objects = {p.relative_to(home / "objects").as_posix() for p in (home / "objects").rglob("*.txt")}
    return report, entries, present, keys, objects


def _check(home: Path, batch_id: str, batch_cases: set[str], original: set[str]) -> dict:
    report, entries, present, _keys, objects = _observe(home, batch_id)
    assert report.ok, report.summary()
    intended = {c for e in entries if e.action in INTENT for c in e.record_ids}
    completed = [e for e in entries if e.action in COMPLETE]
    completed_cases = {c for e in completed for c in e.record_ids}
    gone = original - present
    assert gone <= batch_cases, "only cases of the batch ever leave the store"
    assert gone <= intended, f"destroyed without a ledger entry: {sorted(gone - intended)[:5]}"
    assert not (completed_cases & present), "a completion entry claims a case that is still there"
    assert not [k for k in objects if any(f"/{c}/" in k for c in completed_cases)], "objects of a completed chunk remain"
    per_chunk = Counter(e.details["chunk"] for e in completed)
    assert all(n == 1 for n in per_chunk.values()), f"a chunk completed twice: {per_chunk.most_common(2)}"
    return {"gone": len(gone), "completed": len(per_chunk), "in_flight": len(intended - completed_cases)}


def test_sigkill_at_random_points_keeps_store_and_ledger_consistent(prepared, tmp_path):
    home, batch_id, due = prepared
    settings = Settings.from_env({"GOVERNANCE_HOME": str(home)})
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        original = set(conn.execute(sa.select(store.raw("case", "id"))).scalars())
    store.engine.dispose()
    from governance.retention import tables
    from governance.state import state_engine

    with state_engine(settings).connect() as conn:
        batch_cases = set(conn.execute(sa.select(tables.batch_items.c.case_id)
                                       .where(tables.batch_items.c.batch_id == batch_id)).scalars())
    rng = random.Random(1234)
    # Calibrate: when does the first chunk start, and when does the run end? Kills are spread over
    # that window, so they land in the work rather than in opening files (a timing-free criterion
    # of "mid-run" is applied to each trial below).
    calibration = tmp_path / "calibrate"
    shutil.copytree(home, calibration)
    marker = tmp_path / "first-chunk"
    started = time.monotonic()
    process = _execute(calibration, batch_id, marker)
    process.join(timeout=300)
    assert process.exitcode == 0
    full_run = time.monotonic() - started
    work_starts = float(marker.read_text()) - started
    mid_run_kills = 0
    for trial in range(TRIALS):
        trial_home = tmp_path / f"trial-{trial}"
        shutil.copytree(home, trial_home)
        process = _execute(trial_home, batch_id)
        delay = rng.uniform(work_starts, full_run)
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=60)
        at_kill = _check(trial_home, batch_id, batch_cases, original)
        if at_kill["completed"] == due:
            # This run finished before the kill: runs are quicker than the calibration was, so
            # the window shrinks (the instants stay random, and land in the work more often).
            full_run = max(work_starts + 0.05, delay)
        if 0 < at_kill["completed"] < due or at_kill["in_flight"]:
            mid_run_kills += 1
        _run_batch(trial_home, batch_id)  # run again, to the end
        final = _check(trial_home, batch_id, batch_cases, original)
        assert final["gone"] == due and final["completed"] == due and final["in_flight"] == 0
        assert jobs.verify(Settings.from_env({"GOVERNANCE_HOME": str(trial_home)}), batch_id, actor="ig.bob")["ok"]
        shutil.rmtree(trial_home)
    print(f"crash test: {TRIALS} trials, {mid_run_kills} killed mid-run, work from {work_starts:.2f}s to {full_run:.2f}s; "
          "invariants held in every one")
    assert mid_run_kills >= TRIALS // 2, f"only {mid_run_kills} of {TRIALS} kills landed mid-run"
