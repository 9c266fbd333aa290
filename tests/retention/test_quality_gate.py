"""The data-quality gate: no batch from a store without a recent passing validation."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from governance.jobs import retention as jobs
from governance.jobs.quality import validate_store
from governance.quality.tables import runs
from governance.retention import tables
from governance.retention.quality_gate import QualityGateClosed, check_quality_gate
from governance.state import state_engine

AS_OF = date(2025, 6, 1)
DAY = timedelta(hours=36)


def _record(settings, run_id: str, *, passed: bool, finished_at: datetime, gate: str = "") -> None:
    with state_engine(settings).begin() as conn:
        conn.execute(runs.insert().values(run_id=run_id, store="default", finished_at=finished_at, as_of=AS_OF,
                                          passed=passed, gate=gate))


def _batches(settings) -> int:
    import sqlalchemy as sa

    with state_engine(settings).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(tables.batches)).scalar_one()


def test_no_run_on_record_closes_the_gate_and_no_batch_is_made(world):
    settings, b = world
    b.simple(closed=date(2018, 1, 1))
    with pytest.raises(QualityGateClosed, match="store default: no data-quality run"):
        jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", quality_max_age=DAY)
    assert _batches(settings) == 0


def test_a_failed_latest_run_closes_the_gate_even_after_an_earlier_pass(world):
    settings, b = world
    b.simple(closed=date(2018, 1, 1))
    now = datetime.now(timezone.utc)
    _record(settings, "earlier", passed=True, finished_at=now - timedelta(hours=5))
    _record(settings, "latest", passed=False, finished_at=now - timedelta(hours=1), gate="errors")
    with pytest.raises(QualityGateClosed, match=r"latest data-quality run \(latest\) failed \(errors\)"):
        jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", quality_max_age=DAY)
    assert _batches(settings) == 0


def test_a_stale_pass_closes_the_gate(world):
    settings, _ = world
    _record(settings, "old", passed=True, finished_at=datetime.now(timezone.utc) - timedelta(hours=40))
    with pytest.raises(QualityGateClosed, match="40 h ago, more than the 36 h allowed"):
        check_quality_gate(state_engine(settings), "default", max_age=DAY)


def test_a_real_passing_validation_opens_the_gate_and_is_named_in_the_proposal(world):
    settings, b = world
    b.simple(closed=date(2018, 1, 1))
    summary = validate_store(settings, store="default", as_of=AS_OF, run_id="qa-run-1", publish=False)
    assert summary["passed"]
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", quality_max_age=DAY)
    assert proposed["batch_id"] and proposed["quality_run"]["run_id"] == "qa-run-1"
    # Another store's pass does not open this one's gate.
    with pytest.raises(QualityGateClosed, match="store other"):
        check_quality_gate(state_engine(settings), "other", max_age=DAY)
