"""research_extracts: build extracts for approved studies, end finished studies, flag overdue ones.

Orchestration only. Each task resolves settings through
:class:`governance_airflow.hooks.GovernanceHook` and makes one call into
:mod:`governance.jobs.research`; every import of ``governance`` happens inside
a task, so parsing this file touches no database, file or clock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, Param, TriggerRule, dag, task

from governance_airflow.defaults import default_args

__all__ = ["research_extracts", "STUDY_ENDED"]

#: Updated whenever a study's end action has run (anonymised or destroyed, certificate issued).
STUDY_ENDED = Asset(name="research_study_ended", uri="governance://research/study-ended")

DOC_MD = """
### Research extracts

**What it does.** Every day, for the date it runs for (`as_of`):

1. **plan_research** registers study specifications dropped into
   `<GOVERNANCE_HOME>/research/studies/` (TOML or JSON; unchanged ones are left
   alone) and lists the studies due: approved studies running today with no
   extract yet, and studies whose end date has passed.
2. **build_extract** (one per study): pseudonymised, generalised extract,
   streamed out of the case store into encrypted Parquet in object storage;
   k-anonymity and l-diversity checked before release. A failing extract is
   **withheld** (deleted, and the report gives failing classes by counts only)
   and an alert line `GOVERNANCE RESEARCH EXTRACT WITHHELD` is logged.
3. **end_study** (one per finished study): the study's end action: *anonymise*
   (an aggregate that passes k replaces the extract) or *destroy*; then every
   object version, every local copy and the study key are destroyed, and a
   certificate is written to `certificates/research/<study>.json`. Updates the
   asset `research_study_ended`.
4. **flag_overdue_studies** (runs even if an end failed): studies past their
   end date and not ended are flagged and logged as
   `GOVERNANCE RESEARCH STUDY OVERDUE`.

**Why the IG team cares.** Families were told research data is "anonymised then
destroyed on completion of the study" (Camden leaflet, seed 001). This DAG
keeps that promise on time and leaves proof: ledger entries for every release,
withholding, anonymisation and destruction, and a certificate per study.

**Parameters.** `as_of` (YYYY-MM-DD; default: the run's date), `demo_study`
(register the demonstration study), `overdue_grace_days` (default 0).

**What it logs and returns.** Study and extract ids, counts, key ids and object
keys only: never names, dates of birth, postcodes or pseudonyms.

**If it fails.** Safe to re-run: a released extract is not rebuilt, an
interrupted build is cleaned up and redone, an interrupted end of study resumes
and certifies the true totals. A study that keeps failing to end is flagged
overdue every day until it ends.
"""


def _as_of(context: dict[str, Any]) -> str:
    """The date acted for: the ``as_of`` param, else the day the run is for (not the wall clock)."""
    given = context["params"].get("as_of")
    return given or context["dag_run"].run_after.date().isoformat()


def _actor(context: dict[str, Any]) -> str:
    return f"airflow:{context['dag'].dag_id}"


@dag(
    dag_id="research_extracts",
    schedule="@daily",  # end actions must run on time; building is idempotent
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs share studies, keys and objects
    tags=["governance", "research"],
    doc_md=DOC_MD,
    params={
        "as_of": Param(None, type=["null", "string"], format="date", description="date acted for (YYYY-MM-DD)"),
        "demo_study": Param(False, type="boolean", description="register the demonstration study"),
        "overdue_grace_days": Param(0, type="integer", minimum=0, description="days after end before overdue"),
    },
    default_args=default_args(),
)
def research_extracts() -> None:
    @task(multiple_outputs=True)  # per-key XComs too: planned["as_of"] below
    def plan_research(**context: Any) -> dict[str, Any]:
        """Register specs from the studies folder; list studies to build and to end."""
        from governance.jobs.research import plan
        from governance_airflow.hooks import GovernanceHook

        return plan(GovernanceHook().get_settings(), as_of=_as_of(context), actor=_actor(context),
                    register_demo=bool(context["params"]["demo_study"]))

    @task(max_active_tis_per_dagrun=2)
    def build_extract(study_id: str, as_of: str, **context: Any) -> dict[str, Any]:
        """Build, check and release (or withhold) one study's extract."""
        from governance.jobs.research import build
        from governance_airflow.hooks import GovernanceHook

        return build(GovernanceHook().get_settings(), study_id=study_id, as_of=as_of, actor=_actor(context))

    @task(outlets=[STUDY_ENDED], max_active_tis_per_dagrun=2)
    def end_study(study_id: str, as_of: str, **context: Any) -> dict[str, Any]:
        """Anonymise or destroy one finished study, and certify it."""
        from governance.jobs.research import end
        from governance_airflow.hooks import GovernanceHook

        return end(GovernanceHook().get_settings(), study_id=study_id, as_of=as_of, actor=_actor(context))

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def flag_overdue_studies(as_of: str, **context: Any) -> dict[str, Any]:
        """Flag and alert on studies past their end date that have not ended."""
        from governance.jobs.research import overdue
        from governance_airflow.hooks import GovernanceHook

        return overdue(GovernanceHook().get_settings(), as_of=as_of, actor=_actor(context),
                       grace_days=int(context["params"]["overdue_grace_days"]))

    @task
    def studies_to_build(plan: dict[str, Any]) -> list[str]:
        """The plan's build list (Airflow maps over a task's whole return value)."""
        return list(plan["build"])

    @task
    def studies_to_end(plan: dict[str, Any]) -> list[str]:
        """The plan's end list."""
        return list(plan["end"])

    planned = plan_research()
    as_of = planned["as_of"]
    built = build_extract.partial(as_of=as_of).expand(study_id=studies_to_build(planned))
    ended = end_study.partial(as_of=as_of).expand(study_id=studies_to_end(planned))
    [built, ended] >> flag_overdue_studies(as_of=as_of)


research_extracts()
