"""subject_access: answer one subject access request, from lodging to delivery, with a human review.

Orchestration only. Each task resolves settings through
:class:`governance_airflow.hooks.GovernanceHook` and makes one call into
:mod:`governance.jobs.sar`; every import of ``governance`` happens inside the
task, so parsing this file touches no database, file or clock. The review is
Airflow's human-in-the-loop operator (standard provider).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param, dag, task

from governance_airflow.defaults import default_args

__all__ = ["subject_access"]

DOC_MD = """
### Subject access request

**What it does.** Lodges a request from the trigger form (or picks up one
lodged with `governance sar lodge`, by `request_id`), then: searches every
place the subject's data may be (cases, casenotes, documents, consent and
sharing records, the access log, research extracts, the audit ledger) and
logs where it looked; redacts other people's information and withholds what
the law allows, each with its exemption code; asks a reviewer to approve;
builds the bundle (PDF with the Article 15 cover letter, JSON, manifest),
encrypts it (AES-256-GCM), stores it and writes the handover files.

**While the request is open, the subject's cases are held**: the retention
sweep will not destroy them (DPA 2018 s.173). Delivery or closing releases it.

**The review.** The `review_in_airflow` task waits in *Required actions* with
the review pack: records found, redactions per exemption code, records
withheld in full, reviewer exemptions awaiting a second reviewer. Choose
*Approve* or *Send back* (with a reason). Serious-harm (Sch. 3 para 11) and
child-abuse (Sch. 3 Part 5) exemptions are applied with `governance sar exempt`
and confirmed by a different person with `governance sar confirm`; until then
the pack cannot be approved. If the pack was already approved on the command
line (`governance sar approve --approved-by`) and nothing changed since, the
form is not shown. Approving a pack that changed while the form was open sends
it back instead.

**Deadlines.** Computed at lodging (calendar month, England & Wales bank
holidays, pauses, extension); `subject_access_deadlines` alerts daily on
requests within 7 days of their deadline.

**Where the results go.** `sar/<request id>/bundle.enc` and `manifest.json`
in object storage; the key and the link in two separate 0600 files under
`<GOVERNANCE_HOME>/sar/handover/<request id>/`, to be sent by different
channels; ledger entries `sar.lodged`, `sar.reviewed`, `sar.disclosed`.

**What it logs and returns.** Request ids, person and case ids, counts,
hashes, paths and URIs: never a name, an address, a date of birth or note text.

**Safe to re-run.** Lodging the same request returns it; each later step
replaces its own rows or finds what it already recorded.
"""

_REVIEW_BODY = """{% set pack = ti.xcom_pull(task_ids='prepare_review') %}{{ pack['markdown'] }}

Approve to build, encrypt and deliver the bundle. Send back (choose a reason) to change redactions first."""


def _as_of(context: dict[str, Any]) -> str:
    """The day the bundle is prepared: the run's own date (never the clock at parse time)."""
    return context["dag_run"].run_after.date().isoformat()


@dag(
    dag_id="subject_access",
    schedule=None,  # lodged by records management from the trigger form
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=4,
    tags=["governance", "subject-access", "records-management"],
    doc_md=DOC_MD,
    params={
        "request_id": Param("", type="string", description="an already lodged request (leave empty to lodge one)"),
        "store": Param("default", type="string", description="the case store"),
        "subject_person_id": Param("", type="string", description="the subject's person id in the store"),
        "received_on": Param("", type="string", description="day the request was received (YYYY-MM-DD)"),
        "requester_kind": Param("subject", enum=["subject", "parent_carer", "agent"]),
        "requester_person_id": Param("", type="string", description="the requester's person id, if in the store"),
        "parent_basis": Param("", enum=["", "child_authorised", "child_lacks_understanding", "child_best_interest"]),
        "child_competence": Param("", enum=["", "competent", "not_competent"]),
        "competence_assessed_by": Param("", type="string"),
        "competence_assessed_on": Param("", type="string", description="YYYY-MM-DD"),
        "child_view": Param("", enum=["", "agrees", "objects", "no_view", "unable_to_express"]),
        "authority_evidence": Param("", enum=["", "written_authority", "lasting_power_of_attorney", "court_order", "other"]),
        "identity_requested": Param(False, type="boolean", description="identity asked for: the clock waits"),
        "authority_requested": Param(False, type="boolean", description="an agent's authority asked for: the clock waits"),
    },
    default_args=default_args(owner="records-management"),
)
def subject_access() -> None:
    @task
    def lodge_request(**context: Any) -> dict[str, Any]:
        """Register the request from the form (or find the one named): a hold on the subject's cases."""
        from governance.jobs.sar import lodge_from_params
        from governance_airflow.hooks import GovernanceHook

        return lodge_from_params(GovernanceHook().get_settings(), dict(context["params"]),
                                 run_id=context["run_id"], actor=f"airflow:{context['dag'].dag_id}")

    @task
    def discover(lodged: dict[str, Any]) -> dict[str, Any]:
        """Search the store, objects, research and ledger; log where."""
        from governance.jobs.sar import discover_request
        from governance_airflow.hooks import GovernanceHook

        return discover_request(GovernanceHook().get_settings(), lodged["request_id"])

    @task
    def redact(found: dict[str, Any]) -> dict[str, Any]:
        """Apply the redaction rules; record span, code and rule of each."""
        from governance.jobs.sar import redact_request
        from governance_airflow.hooks import GovernanceHook

        return redact_request(GovernanceHook().get_settings(), found["request_id"])

    @task
    def prepare_review(redacted: dict[str, Any]) -> dict[str, Any]:
        """The review pack: counts per exemption code, and its hash."""
        from governance.jobs.sar import prepare_review_for_airflow
        from governance_airflow.hooks import GovernanceHook

        return prepare_review_for_airflow(GovernanceHook().get_settings(), redacted["request_id"])

    @task.branch
    def choose_review(pack: dict[str, Any]) -> str:
        """Skip the form when the pack as it stands was already approved on the command line."""
        return "record_review" if pack["approved"] else "review_in_airflow"

    review_in_airflow = HITLOperator(
        task_id="review_in_airflow",
        subject="Subject access request {{ ti.xcom_pull(task_ids='prepare_review')['request_id'] }}: approve the bundle?",
        body=_REVIEW_BODY,
        options=["Approve", "Send back"],
        params={"send_back_reason": Param("other", enum=["more_redaction_needed", "over_redacted", "records_missing",
                                                         "wrong_exemption", "other"])},
    )

    @task.short_circuit(trigger_rule="none_failed_min_one_success")
    def record_review(pack: dict[str, Any], **context: Any) -> bool:
        """Record the decision; everything after runs only if the pack is approved."""
        from governance.jobs.sar import record_airflow_review
        from governance_airflow.hooks import GovernanceHook

        response = context["ti"].xcom_pull(task_ids="review_in_airflow")
        return record_airflow_review(GovernanceHook().get_settings(), pack, response,
                                     actor=f"airflow:{context['dag'].dag_id}")["approved"]

    @task
    def build_bundle(pack: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Render, package, encrypt and store the bundle."""
        from datetime import date

        from governance.jobs.sar import build_bundle as build
        from governance_airflow.hooks import GovernanceHook

        return build(GovernanceHook().get_settings(), pack["request_id"], as_of=date.fromisoformat(_as_of(context)))

    @task
    def deliver(built: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Link and key files, disclosure record, ledger entry; the request is delivered and its hold released."""
        from datetime import date

        from governance.jobs.sar import deliver_bundle
        from governance_airflow.hooks import GovernanceHook

        return deliver_bundle(GovernanceHook().get_settings(), built["request_id"],
                              as_of=date.fromisoformat(_as_of(context)), actor=f"airflow:{context['dag'].dag_id}")

    pack = prepare_review(redact(discover(lodge_request())))
    chosen = choose_review(pack)
    approved = record_review(pack)
    chosen >> [review_in_airflow, approved]
    review_in_airflow >> approved
    built = build_bundle(pack)
    approved >> built
    deliver(built)


subject_access()
