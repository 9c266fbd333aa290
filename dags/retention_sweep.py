"""retention_sweep: cases past retention leave the case stores, reviewed, in chunks, with proof.

Orchestration only: each task resolves settings through the GovernanceHook and
makes one call into :mod:`governance.jobs.retention`. Nothing runs at parse time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, dag, task

from governance_airflow.defaults import default_args
from governance_airflow.operators import REVIEW_XCOM_KEY, RecordedApprovalOperator

__all__ = ["retention_sweep"]

DOC_MD = """
### Retention sweep

**What it does.** Every day at 06:00 UTC, for one case store (param `store`), it plans which
closed cases are past their retention period under the schedule
(`governance/retention/schedule.toml`), makes a disposition batch, asks the IG
team to review it (**Browse → Required Actions**), then destroys or anonymises
the approved cases in chunks, verifies nothing of them remains (rows and every
object version) and issues a destruction certificate (PDF and JSON in object
storage).

**Data-quality gate.** No batch is made unless the store passed the
`data_quality` DAG within `quality_max_age_hours` (36): a failed or missing
validation fails `propose` with one line naming the store and why.

**What stops a case.** Holds (litigation, inquiries), a pending subject-access
request for anyone on the case, data-quality quarantine, missing or implausible
dates, reopening, an unfinished re-referral chain. These are checked again just
before each chunk runs: a hold placed after approval still wins.

**Review.** The reviewer sees counts per class and rule, never case content.
Under the two-person rule the approver must differ from whoever created the
batch. Classes the schedule marks `auto_approve` skip review. Reject ends the
run green with the rejection recorded in the ledger.

**Nothing due** ends the run green. **Failures** alert with counts only; a
rerun finishes an interrupted chunk without doing anything twice.

Params: `store` (default `default`), `as_of` (YYYY-MM-DD; default the run's
logical date).
"""

# Chunks of one batch run one at a time, on every database: a chunk removes a family (and its
# people) once its last case has gone, and two chunks committing side by side on PostgreSQL
# could each still see the other's case and both keep the family.
CHUNKS_IN_PARALLEL = 1


def _as_of(context: dict[str, Any]):
    from datetime import date

    given = context["params"].get("as_of")
    return date.fromisoformat(given) if given else context["logical_date"].date()


@dag(
    dag_id="retention_sweep",
    # Daily at 06:00 UTC, after the night's data_quality run (00:00): the quality gate in
    # `propose` wants a passing validation of the store from the last 36 hours.
    schedule="0 6 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # two sweeps must never work on one store at once
    tags=["governance", "retention"],
    doc_md=DOC_MD,
    params={
        "store": Param("default", type="string", description="configured case store"),
        "as_of": Param(None, type=["null", "string"], format="date", description="judge retention as of (YYYY-MM-DD)"),
        "quality_max_age_hours": Param(36, type="number", minimum=0,
                                       description="make no batch unless the store passed data quality within this "
                                                   "many hours (0 turns the gate off)"),
    },
    default_args=default_args(retry_delay=timedelta(minutes=1), max_retry_delay=timedelta(minutes=15)),
)
def retention_sweep() -> None:
    @task
    def propose(**context: Any) -> dict[str, Any]:
        """Plan and make a batch of what is due (no batch when nothing is)."""
        from governance.jobs.retention import propose as make_batch
        from governance_airflow.hooks import GovernanceHook

        from airflow.sdk.exceptions import AirflowFailException

        from governance.retention.quality_gate import QualityGateClosed

        hours = float(context["params"]["quality_max_age_hours"])
        settings = GovernanceHook().get_settings()
        try:
            return make_batch(settings, context["params"]["store"], as_of=_as_of(context),
                              created_by=f"airflow:{context['dag'].dag_id}",
                              quality_max_age=timedelta(hours=hours) if hours else None)
        except QualityGateClosed as closed:
            # Retrying in minutes cannot open a gate that only tonight's validation opens: fail now, alert.
            raise AirflowFailException(str(closed)) from None

    @task.branch
    def route(proposal: dict[str, Any]) -> str | None:
        """Nothing due: stop here, green. Auto-approved: skip review. Otherwise: review."""
        if not proposal["batch_id"]:
            return None
        return "auto_approved" if proposal["status"] == "approved" else "review_batch"

    review = RecordedApprovalOperator(
        task_id="review_batch",
        subject="Retention batch for review: {{ ti.xcom_pull(task_ids='propose')['batch_id'] }}",
        body="{{ ti.xcom_pull(task_ids='propose')['review_markdown'] }}",
        # No default option: an unanswered review fails and alerts, it never approves.
        # A retry asks again (a reminder), for another week.
        response_timeout=timedelta(days=7),
    )
    reviewed = EmptyOperator(task_id="reviewed")  # skipped on Reject; apply_decision still runs
    auto = EmptyOperator(task_id="auto_approved")

    # Runs after an answer either way (a Reject skips `reviewed`), but not when proposing failed or the
    # review itself failed (an unanswered review times out): then there is no decision to apply.
    @task(trigger_rule="none_failed_min_one_success")
    def apply_decision(proposal: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Record the reviewer's decision on the batch (the two-person rule applies)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from governance.jobs.retention import apply_review
        from governance_airflow.hooks import GovernanceHook

        if not proposal["batch_id"]:
            raise AirflowSkipException("nothing due")
        response = context["ti"].xcom_pull(task_ids="review_batch", key=REVIEW_XCOM_KEY)
        result = apply_review(GovernanceHook().get_settings(), proposal["batch_id"], response)
        if not result["approved"]:
            raise AirflowSkipException(f"batch {proposal['batch_id']} was rejected")
        return result

    @task
    def chunks(decision: dict[str, Any]) -> list[dict[str, Any]]:
        from governance.jobs.retention import chunks_of
        from governance_airflow.hooks import GovernanceHook

        batch_id = decision["batch_id"]
        return [{"batch_id": batch_id, "chunk": n} for n in chunks_of(GovernanceHook().get_settings(), batch_id)]

    @task(max_active_tis_per_dagrun=CHUNKS_IN_PARALLEL)
    def execute_chunk(item: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Destroy or anonymise one chunk (safe to retry: a rerun finishes, never repeats)."""
        from governance.jobs.retention import execute
        from governance_airflow.hooks import GovernanceHook

        return execute(GovernanceHook().get_settings(), item["batch_id"], item["chunk"], as_of=_as_of(context),
                       actor=f"airflow:{context['dag'].dag_id}")

    @task
    def verify(decision: dict[str, Any], executed: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
        from governance.jobs.retention import verify as verify_batch
        from governance_airflow.hooks import GovernanceHook

        return verify_batch(GovernanceHook().get_settings(), decision["batch_id"], actor=f"airflow:{context['dag'].dag_id}")

    @task
    def certificate(verified: dict[str, Any], **context: Any) -> dict[str, Any]:
        from governance.jobs.retention import certify
        from governance_airflow.hooks import GovernanceHook

        return certify(GovernanceHook().get_settings(), verified["batch_id"], actor=f"airflow:{context['dag'].dag_id}")

    proposal = propose()
    routed = route(proposal)
    routed >> [review, auto]
    review >> reviewed
    decision = apply_decision(proposal)
    [reviewed, auto] >> decision
    executed = execute_chunk.expand(item=chunks(decision))
    certificate(verify(decision, executed))


retention_sweep()
