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

**The form.** A self-request needs only the subject's person id and the day
it was received; the *Parent, carer or agent* section is read only for those
requester kinds (ignored otherwise). To pick up a request lodged on the
command line, give only its id. A malformed date is refused before the run;
a missing or contradictory field fails `lodge_request` at once, in one line,
without retries.

**The review.** The `review_in_airflow` task waits in *Required actions* with
the review pack: records found, redactions per exemption code, every record
withheld in full and why, notes flagged as third-party information that need a
decision, reviewer exemptions awaiting a second reviewer, and every redaction
by record, label, code and rule. The text itself is read with
`governance sar preview --request ID` (the same labels highlight it); record
text never enters Airflow. Choose *Approve* or *Send back* (with a reason);
*withhold undecided flagged notes* with *Approve* accepts the proposed
withholding of the flagged notes not decided on the command line. Serious-harm (Sch. 3 para 11) and
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
        # A new request needs only subject_person_id and received_on (and the store); everything else is
        # optional (nullable: an empty field is "not given") and read only for the requester kind it belongs to.
        "request_id": Param(None, type=["null", "string"], pattern=r"^[a-z0-9][a-z0-9-]{2,62}$",
                            title="Existing request id",
                            description="to pick up a request lodged with `governance sar lodge`; leave empty to lodge one"),
        "store": Param("default", type="string", minLength=1, title="Case store"),
        "subject_person_id": Param(None, type=["null", "string"], title="Subject's person id",
                                   description="the subject's person id in the store (needed for a new request)"),
        "received_on": Param(None, type=["null", "string"], format="date", title="Received on",
                             description="the day the request was received (needed for a new request)"),
        "requester_kind": Param("subject", type="string", enum=["subject", "parent_carer", "agent"],
                                title="Who is asking",
                                values_display={"subject": "the subject", "parent_carer": "a parent or carer",
                                                "agent": "an agent with authority"}),
        "identity_requested": Param(False, type="boolean", title="Identity asked for",
                                    description="identity asked for: the clock waits until it arrives"),
        "requester_person_id": Param(None, type=["null", "string"], title="Requester's person id",
                                     section="Parent, carer or agent", description="if the requester is in the store"),
        "parent_basis": Param(None, type=["null", "string"], section="Parent, carer or agent",
                              enum=[None, "child_authorised", "child_lacks_understanding", "child_best_interest"],
                              description="parent or carer only: why the parent may act for the child"),
        "child_competence": Param(None, type=["null", "string"], enum=[None, "competent", "not_competent"],
                                  section="Parent, carer or agent", description="parent or carer only"),
        "competence_assessed_by": Param(None, type=["null", "string"], section="Parent, carer or agent",
                                        description="parent or carer only"),
        "competence_assessed_on": Param(None, type=["null", "string"], format="date",
                                        section="Parent, carer or agent", description="parent or carer only"),
        "child_view": Param(None, type=["null", "string"], section="Parent, carer or agent",
                            enum=[None, "agrees", "objects", "no_view", "unable_to_express"],
                            description="parent or carer only: the child's view"),
        "authority_evidence": Param(None, type=["null", "string"], section="Parent, carer or agent",
                                    enum=[None, "written_authority", "lasting_power_of_attorney", "court_order", "other"],
                                    description="agent only: what proves the authority"),
        "authority_requested": Param(False, type="boolean", section="Parent, carer or agent",
                                     description="parent or agent only: authority asked for, the clock waits"),
    },
    default_args=default_args(owner="records-management"),
)
def subject_access() -> None:
    @task
    def lodge_request(**context: Any) -> dict[str, Any]:
        """Register the request from the form (or find the one named): a hold on the subject's cases.

        Bad input fails this task at once, in one line, without retries (a retry cannot mend a form);
        a database that is briefly away is retried as usual.
        """
        from airflow.sdk.exceptions import AirflowFailException

        from governance.jobs.sar_forms import lodge_from_params
        from governance.sar.register import RequestError
        from governance_airflow.hooks import GovernanceHook

        try:
            return lodge_from_params(GovernanceHook().get_settings(), dict(context["params"]),
                                     run_id=context["run_id"], actor=f"airflow:{context['dag'].dag_id}")
        except RequestError as refused:
            raise AirflowFailException(f"request refused: {refused}") from None

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
        from governance.jobs.sar_forms import prepare_review_for_airflow
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
                                                         "wrong_exemption", "other"]),
                "withhold_undecided_flagged_notes": Param(
                    False, type="boolean",
                    description="with Approve: withhold every note flagged as third-party information that is "
                                "not yet decided (the proposed exemption, as listed above)")},
    )

    @task.short_circuit(trigger_rule="none_failed_min_one_success")
    def record_review(pack: dict[str, Any], **context: Any) -> bool:
        """Record the decision; everything after runs only if the pack is approved."""
        from governance.jobs.sar_forms import record_airflow_review
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
