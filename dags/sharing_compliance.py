"""sharing_compliance: daily consent, information-sharing and file-access checks for the IG team.

Orchestration only. Each task resolves settings through
:class:`governance_airflow.hooks.GovernanceHook` and makes one call into
:mod:`governance.jobs.sharing`; every import of ``governance`` happens inside
the task, so parsing this file touches no database, file or clock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task

from governance_airflow.defaults import default_args

__all__ = ["sharing_compliance"]

DOC_MD = """
### Sharing compliance

**What it does.** Every day, for every configured case store (one mapped task
each), checks that information sharing and file access matched what families
agreed and what the law allows, and records what it finds:

| rule | raised when |
|---|---|
| `share_to_opted_out_agency` | shared with an agency the family opted out of, no override reason |
| `share_after_withdrawal` | shared on or after consent was withdrawn, no override reason |
| `share_without_consent` | consent-based case, no consent form in force or consent to share not given, no override reason |
| `shared_without_lawful_basis` | shared with no lawful basis recorded |
| `family_not_informed_without_reason` | family not informed and no reason recorded |
| `third_party_document_shared_without_consent` | third-party document shared without its author's consent |
| `restricted_material_passed_on` | a casenote under a restriction on further disclosure was shared |
| `non_staff_access_without_reason` | file opened by someone other than paid staff, no reason recorded |
| `missing_privacy_notice` | early-help case with no "privacy notice shared with family" casenote within `privacy_notice_days` of opening |

Statutory social-care cases (Children Act 1989/2004) may share without
consent, so the consent rules apply only to early-help and Home-Start work;
every other rule applies to all. The policy is written up in docs/sharing.md.

**Where the results go.** Findings to the `sharing_findings` table (one row
per rule and record, first and last seen, open or resolved; a finding the IG
team resolved with a note stays resolved), one signed ledger entry per store
(counts and finding keys), and an alert line per store on the
`governance.alerts` logger: `SHARING COMPLIANCE store=... open=... new=...`.
Work the findings with `governance sharing findings` and `governance sharing resolve`.

**Parameters.** `as_of` (YYYY-MM-DD; default: the end of the run's data
interval), `privacy_notice_days` (default 28).

**What it logs and returns.** Store names, rule codes, run ids, dates and
counts only: never names, addresses, dates of birth or note text.

**Safe to re-run.** A retry of the same run leaves the findings as one try
would and does not write a second ledger entry.
"""


def _as_of(context: dict[str, Any]) -> str:
    """The day checked: the ``as_of`` parameter, else the end of the run's data interval."""
    chosen = context["params"].get("as_of")
    if chosen:
        return str(chosen)
    for key in ("data_interval_end", "logical_date"):
        if context.get(key) is not None:
            return context[key].date().isoformat()
    return context["dag_run"].run_after.date().isoformat()


@dag(
    dag_id="sharing_compliance",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs reconcile the same findings
    tags=["governance", "sharing", "information-governance"],
    doc_md=DOC_MD,
    params={
        "as_of": Param(None, type=["null", "string"], format="date", description="check as of this day (YYYY-MM-DD)"),
        "privacy_notice_days": Param(28, type="integer", minimum=1, maximum=365,
                                     description="days after opening by which the privacy-notice casenote is due"),
    },
    default_args=default_args(),
)
def sharing_compliance() -> None:
    @task
    def list_stores() -> list[str]:
        """The configured case stores, one compliance task each."""
        from governance.jobs.sharing import stores_to_check
        from governance_airflow.hooks import GovernanceHook

        return stores_to_check(GovernanceHook().get_settings())

    @task
    def check_store(store: str, **context: Any) -> dict[str, Any]:
        """Run the compliance checks on one store: findings table and ledger."""
        from governance.jobs.sharing import check_store as run_checks
        from governance_airflow.hooks import GovernanceHook

        return run_checks(
            GovernanceHook().get_settings(), store=store, as_of=_as_of(context), run_id=context["run_id"],
            actor=f"airflow:{context['dag'].dag_id}", privacy_notice_days=int(context["params"]["privacy_notice_days"]),
        )

    @task
    def alert_ig_team(results: list[dict[str, Any]]) -> dict[str, int]:
        """One alert line per store with counts (never content); totals to XCom."""
        from governance.jobs.sharing import alert_ig_team as alert

        return alert(results)

    alert_ig_team(check_store.expand(store=list_stores()))


sharing_compliance()
