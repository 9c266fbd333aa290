"""The store's claim: a live holder keeps others out, a dead one does not (issue 12, items 4 and 5).

On PostgreSQL the holder's session advisory lock, on SQLite the holder's pid and
start time tell the two apart; the claim row itself is the state database's.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import date

import pytest

from governance.jobs import retention as jobs
from governance.retention.claims import StoreBusy, claim_store, current_claim
from governance.state import state_engine

from tests.retention.safety_world import at, case_exists, case_history, ledger_entries


def _hold_the_store(settings, ready, release, die: bool) -> None:
    from governance import state

    for inherited in state._engines.values():  # forked: never use the parent's pooled connections
        inherited.dispose(close=False)
    engine = state_engine(settings)
    with claim_store(engine, "default", purpose="a sweep", holder="ig.erin"):
        ready.set()
        if die:
            os.kill(os.getpid(), signal.SIGKILL)  # dies holding it: no release runs
        release.wait(60)


def _holder(settings, die: bool):
    context = multiprocessing.get_context("fork")  # imports already paid; pooled connections are set aside
    ready, release = context.Event(), context.Event()
    process = context.Process(target=_hold_the_store, args=(settings, ready, release, die))
    process.start()
    assert ready.wait(120)
    return process, release


@pytest.mark.slow
def test_a_live_claimant_keeps_a_second_execution_out_and_a_dead_one_does_not(world):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    proposed = jobs.propose(settings, "default", as_of=date(2026, 12, 1), created_by="ig.alice",
                            now=at(date(2026, 12, 1)))
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")

    process, release = _holder(settings, die=False)
    try:
        with pytest.raises(StoreBusy, match=r"store default is held by a sweep \(by ig.erin, pid \d+"):
            jobs.execute_all(settings, proposed["batch_id"], actor="ig.bob", now=at(date(2026, 12, 2)))
        assert case_exists(settings, case)
        assert "retention.batch.executing" not in [e.action for e in ledger_entries(settings)]
    finally:
        release.set()
        process.join(60)
    assert current_claim(state_engine(settings), "default") is None  # released on the way out

    process, _ = _holder(settings, die=True)
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    assert current_claim(state_engine(settings), "default")["holder"] == "ig.erin"  # the dead claimant's row
    jobs.execute_all(settings, proposed["batch_id"], actor="ig.bob", now=at(date(2026, 12, 2)))  # taken over
    assert not case_exists(settings, case)
    assert current_claim(state_engine(settings), "default") is None


def test_another_thread_of_the_same_process_is_another_claimant(world):
    import threading

    settings, _ = world
    engine = state_engine(settings)
    outcome: list[str] = []

    def second() -> None:
        try:
            with claim_store(engine, "default", purpose="a sweep", holder="ig.frank"):
                outcome.append("claimed")
        except StoreBusy as busy:
            outcome.append(str(busy))

    with claim_store(engine, "default", purpose="execution of B-default-1", holder="ig.bob"):
        with claim_store(engine, "default", purpose="nested", holder="ig.bob"):  # re-entrant in one thread
            worker = threading.Thread(target=second)
            worker.start()
            worker.join(60)
    assert len(outcome) == 1 and "held by execution of B-default-1 (by ig.bob" in outcome[0], outcome
    with claim_store(engine, "default", purpose="a sweep", holder="ig.frank"):  # free again afterwards
        assert current_claim(engine, "default")["holder"] == "ig.frank"
