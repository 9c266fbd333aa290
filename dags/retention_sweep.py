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

**Unfinished work first.** `finish_unfinished` finishes the store's batches a
killed run left (approved, or executing after the store committed): it executes
what remains, deletes the documents left behind, verifies and certifies.

**What stops a case.** Holds (litigation, inquiries), a pending subject-access
request for anyone on the case, data-quality quarantine, an earlier rejection
still standing, missing or implausible dates, reopening, an unfinished
re-referral chain. Holds and access requests are checked again just before each
chunk runs, **as they stand at that moment**: a hold placed after the batch was
made (or after approval) still wins; `as_of` runs the retention clocks only.

**As-of.** Param `as_of` (YYYY-MM-DD; default the run's logical date) cannot be
after today: such a run fails at `propose` without retrying.

**Review.** The reviewer sees counts per class, rule and action, what approving
does to a destroyed and to an anonymised case, cases not due yet apart from
cases kept back, and earlier rejections of the same cases; never case content.
The batch's creator is **the user who triggered the run** (`schedule` for the
daily run); under the two-person rule that user cannot approve it (the decision
task fails with one line and the batch stays proposed). **Reject needs a
reason** (the form's `reason` field), kept in the ledger; the rejected cases
are not proposed again until the rejection is lifted
(`governance retention rejection lift`) or expires (90 days by default,
`GOVERNANCE_RETENTION_REJECTION_DAYS`). A rejected run ends green at the task
**`rejected`** with every destruction task skipped; a destruction run ends at
`certificate`. Classes the schedule marks `auto_approve` skip review.

**One sweep per store.** A second sweep or execution of the same store (another
run, the command line) is refused by the state database's claim and changes
nothing; the task retries later.

**Paused until someone means it.** This DAG is created paused. Triggering it
from the UI with **"unpause on trigger"** ticked also **un-pauses the daily
06:00 destructive schedule**: untick it for a one-off run, and pause the DAG
again afterwards if the schedule should stay off.

**Nothing due** ends the run green. **Failures** alert with counts only; a
rerun finishes an interrupted chunk without doing anything twice.

Params: `store` (default `default`), `as_of`, `quality_max_age_hours` (36).
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
    # Destructive on a schedule: nothing runs until someone un-pauses it on purpose (see doc_md about
    # "unpause on trigger").
    is_paused_upon_creation=True,
    max_active_runs=1,  # one run at a time; the store's claim in the state database enforces it across runs and CLI
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
    def finish_unfinished(**context: Any) -> list[dict[str, Any]]:
        """Finish the store's batches a killed run left (resume, delete leftover documents, verify, certify)."""
        from governance.jobs.retention import finish_unfinished as finish
        from governance_airflow.hooks import GovernanceHook

        return finish(GovernanceHook().get_settings(), context["params"]["store"],
                      actor=f"airflow:{context['dag'].dag_id}")

    @task
    def propose(**context: Any) -> dict[str, Any]:
        """Plan and make a batch of what is due (no batch when nothing is); its creator is who triggered the run."""
        from governance.jobs.retention import propose as make_batch
        from governance.jobs.retention import run_creator
        from governance.retention.execute import AsOfInFuture
        from governance.retention.quality_gate import QualityGateClosed
        from governance_airflow.hooks import GovernanceHook

        from airflow.sdk.exceptions import AirflowFailException

        hours = float(context["params"]["quality_max_age_hours"])
        settings = GovernanceHook().get_settings()
        dag_run = context["dag_run"]
        try:
            return make_batch(settings, context["params"]["store"], as_of=_as_of(context),
                              created_by=run_creator(dag_run.run_type, dag_run.triggering_user_name),
                              quality_max_age=timedelta(hours=hours) if hours else None)
        except (QualityGateClosed, AsOfInFuture) as closed:
            # Retrying cannot open a gate that only tonight's validation opens, nor bring a future date
            # nearer: fail now, alert.
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
        params={"reason": Param(None, type=["null", "string"], maxLength=400,
                                description="Your reason: required to reject (kept in the ledger), optional to approve")},
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
        """Record the reviewer's decision on the batch (two-person rule; a rejection needs its reason)."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from governance.errors import GovernanceError
        from governance.jobs.retention import apply_review
        from governance_airflow.hooks import GovernanceHook

        if not proposal["batch_id"]:
            raise AirflowSkipException("nothing due")
        response = context["ti"].xcom_pull(task_ids="review_batch", key=REVIEW_XCOM_KEY)
        try:
            return apply_review(GovernanceHook().get_settings(), proposal["batch_id"], response)
        except GovernanceError as refused:
            # The answer breaks a rule (the approver triggered the run; a rejection without a reason):
            # asking the same answer again cannot help. The batch stays proposed.
            raise AirflowFailException(str(refused)) from None

    @task.branch
    def route_decision(decision: dict[str, Any]) -> str:
        """Approved: destroy. Rejected: end at `rejected`, so the run does not look like a destruction run."""
        return "chunks" if decision["approved"] else "rejected"

    rejected = EmptyOperator(task_id="rejected")

    @task
    def chunks(decision: dict[str, Any]) -> list[dict[str, Any]]:
        from governance.jobs.retention import chunks_of
        from governance_airflow.hooks import GovernanceHook

        batch_id = decision["batch_id"]
        return [{"batch_id": batch_id, "chunk": n} for n in chunks_of(GovernanceHook().get_settings(), batch_id)]

    @task(max_active_tis_per_dagrun=CHUNKS_IN_PARALLEL)
    def execute_chunk(item: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Destroy or anonymise one chunk (safe to retry: a rerun finishes, never repeats).

        Clocks as of the batch's as-of date; holds and access requests as they stand now.
        """
        from governance.jobs.retention import execute
        from governance_airflow.hooks import GovernanceHook

        return execute(GovernanceHook().get_settings(), item["batch_id"], item["chunk"],
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
    finish_unfinished() >> proposal
    routed = route(proposal)
    routed >> [review, auto]
    review >> reviewed
    decision = apply_decision(proposal)
    [reviewed, auto] >> decision
    decided = route_decision(decision)
    decided >> rejected
    batch_chunks = chunks(decision)
    decided >> batch_chunks
    executed = execute_chunk.expand(item=batch_chunks)
    certificate(verify(decision, executed))


retention_sweep()
