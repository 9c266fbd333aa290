"""data_quality: validate every case store, quarantine what fails, publish Data Docs and an Asset.

Orchestration only. ``list_stores`` names the configured stores; ``validate_store``
is mapped over them (one GX checkpoint per store) and makes one call into
:mod:`governance.jobs.quality`. Every ``governance`` import happens inside a
task, so parsing this file touches no database, file or clock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Asset, AssetAlias, Param, dag, get_current_context, task

from governance_airflow.defaults import default_args

__all__ = ["data_quality", "QUALITY_ALIAS"]

#: Every store's "validated" Asset is emitted through this alias; the concrete
#: Asset of store ``<name>`` is ``Asset("governance://quality/<name>")``.
QUALITY_ALIAS = "governance-quality"

DOC_MD = """
### Data quality

**What it does.** For each configured case store (connections `case_store_<name>`),
runs the Great Expectations suites in `expectations/` inside the store's database
(one checkpoint per store, one mapped task per store): keys present and unique,
links that resolve, closure dates present, ordered and not in the future,
plausible dates of birth, consent opt-outs on the form, lawful bases for shares,
author consent on third-party documents, and dormant open cases (reported).

**Quarantine.** Records failing a rule go to the `quality_quarantine` table with
their case; the retention sweep skips those cases until a later run passes them
(they are then released). Both are written to the audit ledger.

**Outputs.** Data Docs (counts only) in object storage under
`quality/<store>/data-docs/index.html`, a `quality/<store>/summary.json`, and,
when the store passes, an Asset event for `governance://quality/<store>` (through
the alias `governance-quality`) that the retention DAG schedules on.

**Pass or fail.** Quarantined records do not fail a store: quarantine is the
designed outcome. A store fails (task red, alert, no Asset) when a rule could not
be evaluated, when failing records could not all be identified, or when more than
`max_quarantined_share` of its cases are quarantined (a broken load or mapping).

**Parameters.** `as_of` (the date rules compare against; default the run's date),
`dormant_years` (default 3), `max_quarantined_share` (default 0.25).

**Logs, XCom and alerts** carry store names, rule names, counts and object-store
URIs only: never a value, name, address, date of birth or note text.
"""


@dag(
    dag_id="data_quality",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # runs sync the same quarantine table and publish the same site
    tags=["governance", "quality"],
    doc_md=DOC_MD,
    params={
        "as_of": Param(None, type=["null", "string"], format="date", description="YYYY-MM-DD; default: the run's date"),
        "dormant_years": Param(3, type="integer", minimum=1, description="report open cases idle this long"),
        "max_quarantined_share": Param(0.25, type="number", minimum=0, maximum=1,
                                       description="fail a store with more of its cases quarantined"),
    },
    default_args=default_args(),
)
def data_quality() -> None:
    @task
    def list_stores() -> list[str]:
        """The configured case stores, one validation each."""
        from governance.jobs.quality import configured_stores
        from governance_airflow.hooks import GovernanceHook

        return configured_stores(GovernanceHook().get_settings())

    @task(outlets=[AssetAlias(QUALITY_ALIAS)], map_index_template="{{ quality_store }}")
    def validate_store(store: str, **context: Any) -> dict[str, Any]:
        """Run the store's checkpoint, sync its quarantine, publish Data Docs; emit its Asset if it passes."""
        from governance.jobs.quality import parse_as_of, validate_store as run_validation
        from governance.quality import asset_uri
        from governance.quality.service import QualityGateError, gate_message
        from governance_airflow.callbacks import COUNTS_XCOM_KEY
        from governance_airflow.hooks import GovernanceHook

        get_current_context()["quality_store"] = store  # names the mapped task in the UI
        params = context["params"]
        run_date = context.get("logical_date") or context["dag_run"].run_after
        summary = run_validation(
            GovernanceHook().get_settings(),
            store=store,
            as_of=parse_as_of(params.get("as_of"), fallback=run_date.date()),
            run_id=context["run_id"],
            actor=f"airflow:{context['dag'].dag_id}",
            dormant_years=int(params["dormant_years"]),
            max_quarantined_share=float(params["max_quarantined_share"]),
        )
        context["ti"].xcom_push(key=COUNTS_XCOM_KEY, value=summary["counts"])
        if not summary["passed"]:
            raise QualityGateError(gate_message(summary))
        context["outlet_events"][AssetAlias(QUALITY_ALIAS)].add(
            Asset(asset_uri(store)), extra={"as_of": summary["as_of"], **summary["counts"]})
        return summary

    validate_store.expand(store=list_stores())


data_quality()
