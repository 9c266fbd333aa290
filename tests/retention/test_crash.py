"""Kill the executing process at random instants; the store and ledger stay consistent.

Each trial copies a prepared world (a generated store, an approved batch of
single-case chunks, store and ledger in different SQLite files: the
intent/complete path), forks a process that executes the batch (forked after
imports, so the random kill lands in the work, not in interpreter start-up),
SIGKILLs it, checks the invariants at that instant, finishes the work and
checks them again. Two kinds of kill:

- from outside, after a random delay (two trials in three);
- from inside, exactly between a chunk's store commit and its completion (the
  process SIGKILLs itself as the chunk's object deletion begins): the rows are
  gone, the documents are still there and the batch is ``executing``.

Every other trial is finished by a **plain ``retention sweep``** (the command
line, as a records manager would rerun it), which must finish the unfinished
batch first (resume, delete the documents left behind, verify, certify); the
others by executing the batch again. Invariants:

- nothing destroyed without a ledger entry: every case missing from the store
  is named by an intent (or destroyed) entry;
- no ledger entry claims a destruction that did not happen: every case named by
  a completion entry is gone from the store, with its objects;
- nothing done twice: one completion entry per chunk, one execution claim and
  at most one certificate, and the ledger verifies.

CI runs :data:`TRIALS` (24) trials; the slow run of 100 is
``GOVERNANCE_CRASH_TRIALS=100 .venv/bin/python -m pytest -q tests/retention/test_crash.py -s``.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import time
from collections import Counter
from datetime import date, datetime, timezone
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
TRIALS = int(os.environ.get("GOVERNANCE_CRASH_TRIALS", "24"))
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
    # The night's data-quality run passed (so a plain sweep's quality gate is open when a trial reruns).
    from governance.quality.tables import runs
    from governance.state import state_engine

    with state_engine(settings).begin() as conn:
        conn.execute(runs.insert().values(run_id="nightly", store="default", finished_at=datetime.now(timezone.utc),
                                          as_of=AS_OF, passed=True, gate=""))
    return home, proposed["batch_id"], proposed["due"]


def _kill_myself_when_objects_go(after_commits: int) -> None:
    """SIGKILL this process as the ``after_commits``-th chunk starts deleting objects: its rows have committed."""
    from governance.storage.local import LocalFolderStore

    original = LocalFolderStore.delete_many
    seen = [0]

    def dying(self, keys):
        seen[0] += 1
        if seen[0] == after_commits:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, keys)

    LocalFolderStore.delete_many = dying


def _run_batch(home: Path, batch_id: str, first_chunk_marker: Path | None = None, die_after: int = 0) -> None:
    settings = Settings.from_env({"GOVERNANCE_HOME": str(home)})
    if die_after:
        _kill_myself_when_objects_go(die_after)
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


def _execute(home: Path, batch_id: str, first_chunk_marker: Path | None = None, die_after: int = 0):
    """A separate process executing the batch (fork: no start-up time before the work)."""
    process = multiprocessing.get_context("fork").Process(target=_run_batch,
                                                           args=(home, batch_id, first_chunk_marker, die_after))
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
    actions = Counter(e.action for e in entries)
    assert actions["retention.batch.executing"] <= 1 and actions["retention.certificate.issued"] <= 1, actions
    return {"gone": len(gone), "completed": len(per_chunk), "in_flight": len(intended - completed_cases),
            "certificates": actions["retention.certificate.issued"]}


def _plain_sweep(home: Path) -> tuple[int, str, str]:
    """``governance retention sweep`` as a records manager reruns it after a crash (in this process)."""
    import contextlib
    import io

    from governance.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("GOVERNANCE_HOME")
    os.environ["GOVERNANCE_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["retention", "sweep", "--as-of", AS_OF.isoformat(), "--created-by", "ig.alice",
                         "--approved-by", "ig.bob"])
    finally:
        if saved is None:
            del os.environ["GOVERNANCE_HOME"]
        else:
            os.environ["GOVERNANCE_HOME"] = saved
    return code, out.getvalue(), err.getvalue()


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
    mid_run_kills = between_commit_and_completion = swept = 0
    for trial in range(TRIALS):
        trial_home = tmp_path / f"trial-{trial}"
        shutil.copytree(home, trial_home)
        if trial % 3 == 2:  # SIGKILL from inside, between a chunk's store commit and its completion
            process = _execute(trial_home, batch_id, die_after=rng.randint(1, due))
            process.join(timeout=300)
            assert process.exitcode == -signal.SIGKILL
            at_kill = _check(trial_home, batch_id, batch_cases, original)
            assert at_kill["in_flight"] == 1 and at_kill["completed"] < due, at_kill
            between_commit_and_completion += 1
        else:
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
        trial_settings = Settings.from_env({"GOVERNANCE_HOME": str(trial_home)})
        if trial % 2 == 0:
            code, out, err = _plain_sweep(trial_home)  # finishes the unfinished batch first
            assert code == 0 and err == "", err
            assert f"finished unfinished batch {batch_id} (was " in out or at_kill["completed"] == due, out
            swept += 1
            final = _check(trial_home, batch_id, batch_cases, original)
            assert final["certificates"] == 1
        else:
            _run_batch(trial_home, batch_id)  # run again, to the end
            final = _check(trial_home, batch_id, batch_cases, original)
            assert jobs.verify(trial_settings, batch_id, actor="ig.bob")["ok"]
        assert final["gone"] == due and final["completed"] == due and final["in_flight"] == 0
        assert not [k for k in _observe(trial_home, batch_id)[4] if any(f"/{c}/" in k for c in batch_cases)], \
            "a destroyed case's document was left behind"
        shutil.rmtree(trial_home)
    print(f"crash test: {TRIALS} trials, {mid_run_kills} killed mid-run ({between_commit_and_completion} between a "
          f"store commit and its completion), {swept} finished by a plain sweep; work from {work_starts:.2f}s to "
          f"{full_run:.2f}s; invariants held in every one")
    assert mid_run_kills >= TRIALS // 2, f"only {mid_run_kills} of {TRIALS} kills landed mid-run"
