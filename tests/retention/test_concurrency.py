"""Two real processes on one batch, and on one store, started together (issue 12, item 4).

Before, two sweeps of one store (or two executions of one batch) each decided,
deleted and recorded the same cases: two completions per case, two
certificates, and often an ``IntegrityError`` traceback for the slower one.
Now the store's claim in the state database lets one through; the other
prints one line and exits 2, or finds nothing left to do and exits 0.

Two long-lived worker processes (``race_worker.py``: imports paid once) race
:data:`ROUNDS` rounds per mode on each database. Each round adds fresh due cases
(hand-written: two families whose early-help work closed years ago), so every
round is a fresh batch on work nobody has done yet; both workers get the
round's command on their stdin at the same instant. After each round: exactly
one completion per case in the ledger, one execution claim, one certificate,
no second batch, no traceback, the ledger verifies.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from governance.jobs import retention as jobs

from tests.retention.safety_world import at, case_exists, case_history, ledger_entries

ROUNDS = int(os.environ.get("GOVERNANCE_RACE_ROUNDS", "20"))
AS_OF = date(2026, 12, 1)
REPO = Path(__file__).resolve().parents[2]
COMPLETE = ("retention.destroy.complete", "retention.objects.destroyed")


class Workers:
    def __init__(self, env: dict, log_dir: Path) -> None:
        self.procs = []
        for n in range(2):
            stderr = open(log_dir / f"worker-{n}.stderr", "w")  # noqa: SIM115 - closed in close()
            self.procs.append((subprocess.Popen([sys.executable, "-m", "tests.retention.race_worker"], cwd=REPO,
                                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=stderr, text=True, bufsize=1), stderr))
        for proc, _ in self.procs:
            assert json.loads(proc.stdout.readline()) == {"ready": True}

    def race(self, argvs: list[list[str]]) -> list[list[dict]]:
        line = json.dumps({"argvs": argvs}) + "\n"
        for proc, _ in self.procs:  # both lines written before either answer is read: they start together
            proc.stdin.write(line)
            proc.stdin.flush()
        return [json.loads(proc.stdout.readline())["results"] for proc, _ in self.procs]

    def close(self) -> list[str]:
        logs = []
        for proc, stderr in self.procs:
            proc.stdin.write(json.dumps({"quit": True}) + "\n")
            proc.stdin.flush()
            proc.wait(timeout=60)
            stderr.close()
            logs.append(Path(stderr.name).read_text())
        return logs


def _env(settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    env.update({"GOVERNANCE_HOME": str(settings.home), "GOVERNANCE_STORE_DEFAULT_URL": settings.stores[0].url,
                "GOVERNANCE_LEDGER_URL": settings.ledger_url, "GOVERNANCE_STATE_URL": settings.state_database_url,
                "GOVERNANCE_OBJECTS_URL": settings.objects_url, "GOVERNANCE_KEYS_DIR": str(settings.keys_dir),
                "PYTHONPATH": str(REPO)})
    return env


def _fresh_due_cases(builder) -> list[str]:
    return [case_history(builder, opened=date(2015, 1, 12), closed=date(2018, 11, 2))[0],
            case_history(builder, opened=date(2016, 4, 11), closed=date(2019, 3, 29))[0]]


def _check_round(settings, results: list[list[dict]], cases: list[str], mode: str, n: int,
                 batches_so_far: int) -> tuple[str, Counter]:
    outcomes = Counter()
    for worker in results:
        for r in worker:
            assert r["traceback"] is None, f"{mode} round {n}: {r['traceback']}"
            assert "Traceback" not in r["stderr"] and "IntegrityError" not in r["stderr"], r["stderr"]
            assert r["code"] in (0, 2), r
            if r["code"] == 2:
                assert r["stderr"].count("\n") == 1 and "this run changed nothing" in r["stderr"], r["stderr"]
        outcomes["lost" if worker[-1]["code"] == 2 else "ran"] += 1
    assert not any(case_exists(settings, c) for c in cases), f"{mode} round {n}: a due case survived"
    entries = ledger_entries(settings, verify=False)
    proposed = [e for e in entries if e.action == "retention.batch.proposed"]
    assert len(proposed) == batches_so_far, f"{mode} round {n}: a second batch was made"
    completed = Counter(c for e in entries if e.action in COMPLETE for c in e.record_ids if c in cases)
    assert completed == Counter({c: 1 for c in cases}), f"{mode} round {n}: completions {completed}"
    [batch_id] = {e.details["batch_id"] for e in entries if e.action in COMPLETE and set(e.record_ids) & set(cases)}
    for_batch = [e.action for e in entries if e.details.get("batch_id") == batch_id]
    assert for_batch.count("retention.batch.executing") == 1, for_batch
    assert for_batch.count("retention.certificate.issued") == 1, for_batch
    assert for_batch.count("retention.batch.proposed") == 1
    return batch_id, outcomes


@pytest.mark.slow
def test_two_processes_on_one_batch_and_on_one_store(world, tmp_path):
    settings, b = world
    if settings.stores[0].url.startswith("sqlite"):
        # The embedded default: the store in one file, state and ledger in another (the intent/complete path).
        settings = dataclasses.replace(settings, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    workers = Workers(_env(settings), tmp_path)
    seen = Counter()
    try:
        for n in range(ROUNDS):  # two `batch execute` (then verify and certificate) of one approved batch
            cases = _fresh_due_cases(b)
            proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", now=at(AS_OF),
                                    chunk_size=1)
            assert proposed["due"] == 2
            jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
            batch = proposed["batch_id"]
            results = workers.race([["retention", "batch", "execute", batch, "--actor", "ig.bob"],
                                    ["retention", "batch", "verify", batch, "--actor", "ig.bob"],
                                    ["retention", "batch", "certificate", batch, "--actor", "ig.bob"]])
            done, outcomes = _check_round(settings, results, cases, "batch", n, n + 1)
            assert done == batch
            seen.update({f"batch.{k}": v for k, v in outcomes.items()})
        for n in range(ROUNDS):  # two `retention sweep` of one store
            cases = _fresh_due_cases(b)
            results = workers.race([["retention", "sweep", "--as-of", AS_OF.isoformat(), "--created-by", "ig.alice",
                                     "--approved-by", "ig.bob", "--quality-max-age-hours", "0"]])
            _, outcomes = _check_round(settings, results, cases, "sweep", n, ROUNDS + n + 1)
            seen.update({f"sweep.{k}": v for k, v in outcomes.items()})
    finally:
        logs = workers.close()
    assert ledger_entries(settings)  # and the ledger verifies
    assert not [log for log in logs if "Traceback" in log], logs
    print(f"race: {ROUNDS} rounds per mode: {dict(seen)}")
    # Both workers really raced: in most rounds one of them found the store claimed.
    assert seen["batch.lost"] + seen["sweep.lost"] >= ROUNDS // 2, dict(seen)
