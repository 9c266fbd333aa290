"""platform_foundation: seed the case stores, record it in the ledger, prove the ledger.

Orchestration only. Each task resolves settings through
:class:`governance_airflow.hooks.GovernanceHook` and makes one call into
:mod:`governance.jobs.foundation`; every import of ``governance`` happens inside
the task so parsing this file touches no database, file or clock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task

from governance_airflow.defaults import default_args

__all__ = ["platform_foundation"]

DOC_MD = """
### Platform foundation

**What it does.** Loads fictional, generator-made families, cases, casenotes and
documents into every configured case store (connections `case_store_<name>`),
writes one signed entry in the audit ledger saying so, then exports the ledger
to an offline bundle and verifies both the database ledger and the bundle.

**Why the IG team cares.** This is the end-to-end check that the platform's
foundations work on this installation: the case stores are reachable, the
ledger accepts entries, and the hash chain and signatures verify. A green run
means an auditor can be handed the bundle in
`<GOVERNANCE_HOME>/exports/ledger-<run id>` and check it independently.

**Safe to re-run.** Seeding is idempotent: a store that already holds the same
`seed` is left as it is and its counts are reported. A store holding data the
generator did not write is refused, so a live case store is never seeded over;
still, this DAG is for reference and test installations.

**Parameters.** `families` (records per store, default 200), `seed` (generator
seed, default 7).

**What it logs and returns.** Store names, counts, ledger sequence numbers,
hashes and file URIs only: never names, addresses, dates of birth or note text.

**If it fails.** The failure alert (`GOVERNANCE TASK FAILED ...`) names the task,
run and try. `export_and_verify_ledger` failing with `LedgerIntegrityError`
means the ledger verification found tampering: treat it as an incident.
"""


@dag(
    dag_id="platform_foundation",
    schedule=None,  # run by hand: it is the installation's acceptance check
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs seed and export the same stores and ledger
    tags=["governance", "foundation"],
    doc_md=DOC_MD,
    params={
        "families": Param(200, type="integer", minimum=1, maximum=100_000, description="families per store"),
        "seed": Param(7, type="integer", minimum=0, description="synthetic-data generator seed"),
    },
    default_args=default_args(),
)
def platform_foundation() -> None:
    @task
    def seed_case_stores(**context: Any) -> dict[str, Any]:
        """Seed every configured case store with synthetic records."""
        from governance.jobs.foundation import seed_stores
        from governance_airflow.hooks import GovernanceHook

        settings = GovernanceHook().get_settings()
        params = context["params"]
        return seed_stores(settings, families=int(params["families"]), seed=int(params["seed"]))

    @task
    def record_seed_in_ledger(seeded: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Append one ledger entry recording the seeding (counts and manifest URIs)."""
        from governance.jobs.foundation import record_seed
        from governance_airflow.hooks import GovernanceHook

        settings = GovernanceHook().get_settings()
        actor = f"airflow:{context['dag'].dag_id}"
        return record_seed(settings, seeded=seeded, actor=actor, run_id=context["run_id"])

    @task
    def export_and_verify_ledger(recorded: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Checkpoint, export the offline bundle, verify the database and the bundle."""
        from governance.jobs.foundation import export_ledger_for_run
        from governance_airflow.hooks import GovernanceHook

        settings = GovernanceHook().get_settings()
        # The export must contain the entry the previous task wrote.
        return export_ledger_for_run(settings, run_id=context["run_id"], expect_seq=int(recorded["seq"]))

    export_and_verify_ledger(record_seed_in_ledger(seed_case_stores()))


platform_foundation()
