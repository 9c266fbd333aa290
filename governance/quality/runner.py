"""Run every suite over one store in one GX checkpoint, inside the database.

The store is reached through GX's SQL datasource (the store's own URL); each
entity is a table asset over its mapped table, so every expectation is
evaluated by the database and only counts and failing identifiers come back.
The context is ephemeral: suites, results and Data Docs are rebuilt each run
from code, and nothing GX holds touches disk except the Data Docs site built
from sanitized results (see :mod:`governance.quality.datadocs`).

Failing identifiers come from GX itself: the rows of each rule's
unexpected-rows query (identifiers only), fetched in full with
``ValidationDefinition.get_unexpected_rows`` when there are more than the 200
GX returns inline (up to ``max_ids_per_rule``). Then every result is
sanitized all the same (defence in depth: error text, batch details).
"""

from __future__ import annotations

import io
import logging
import warnings
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from governance.errors import GovernanceError
from governance.quality import sql
from governance.quality.options import QualityOptions
from governance.quality.report import ERROR, FAILED, PASSED, SKIPPED, QualityReport, RuleOutcome
from governance.quality.sanitize import error_type, raised, sanitize_suite_result
from governance.quality.suites import BuiltSuite, plan_suites, add_suites
from governance.stores.store import CaseStore

__all__ = ["Validation", "validate", "quiet_gx"]

_GX_LOGGER = "great_expectations"


@contextmanager
def quiet_gx() -> Iterator[None]:
    """Keep GX's log lines and warnings (import chatter, metric errors echoing SQL) out of task logs.

    GX sets some of its module loggers to INFO itself, so levels are not
    enough: for the duration, GX's top logger swallows every record (a null
    handler, no propagation). GX also writes "Calculating Metrics" progress
    bars to stderr when asked for all failing rows, whatever the context says;
    they carry counts only, but stderr is held for the duration too.
    """
    top = logging.getLogger(_GX_LOGGER)
    saved = top.propagate
    sink = logging.NullHandler()
    top.addHandler(sink)
    top.propagate = False
    try:
        with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        top.removeHandler(sink)
        top.propagate = saved


@dataclass
class Validation:
    """A finished run: the report, and the GX context holding the sanitized results (for Data Docs)."""

    report: QualityReport
    context: Any
    suites: list[BuiltSuite]


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.enable_analytics(False)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def _result_format() -> dict:
    # Each rule's query returns identifiers only, so COMPLETE (the first 200
    # failing rows inline) holds identifiers and nothing else.
    return {"result_format": "COMPLETE"}


def _ids(rows: list[Any]) -> tuple[list[str], int]:
    """Identifiers in GX's unexpected rows, and how many rows had none."""
    values = [row.get(sql.RECORD_ID) if isinstance(row, dict) else None for row in rows]
    ids = [str(v) for v in values if v is not None]
    return ids, len(values) - len(ids)


def _outcome(built: BuiltSuite, evr: Any, options: QualityOptions) -> RuleOutcome:
    config = evr.expectation_config
    rule = config.meta["rule"]
    base = {"rule": rule, "dataset": built.plan.dataset, "entity": built.plan.entity, "severity": config.meta["severity"]}
    if raised(evr.exception_info):
        return RuleOutcome(**base, status=ERROR, reason=f"evaluation raised {error_type(evr.exception_info)}")
    result = evr.result or {}
    count = int(result.get("observed_value") or 0)
    rows = list((result.get("details") or {}).get("unexpected_rows") or [])
    reason = ""
    if len(rows) < count and count > options.max_ids_per_rule:
        reason = f"more failing rows than max_ids_per_rule ({options.max_ids_per_rule})"
    elif len(rows) < count:
        try:
            rows = built.validation.get_unexpected_rows(built.expectations[rule])
        except Exception as exc:  # noqa: BLE001 - the rest stay unidentified; the store then fails its gate
            reason = f"fetching every failing identifier raised {type(exc).__name__}"
    ids, missing = _ids(rows)
    return RuleOutcome(
        **base, status=PASSED if evr.success else FAILED, unexpected=count,
        record_ids=tuple(sorted(set(ids))), unidentified=missing + max(0, count - len(rows)), reason=reason,
    )


def _dispose(datasource: Any) -> None:
    """Close GX's own connection pool to the store (it keeps one per datasource)."""
    try:
        datasource.get_execution_engine().engine.dispose()
    except Exception:  # noqa: BLE001 - best effort: the pool dies with the process anyway
        pass


def validate(store: CaseStore, options: QualityOptions, *, run_id: str, run_time: datetime) -> Validation:
    """Run every applicable suite over ``store`` as one checkpoint; return the report and sanitized context."""
    with quiet_gx():
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        plans, skipped = plan_suites(store)
        report = QualityReport(store=store.name, as_of=options.as_of, run_id=run_id)
        context = _context()
        url = store.engine.url.render_as_string(hide_password=False)
        datasource = context.data_sources.add_sql(name=f"store_{store.name}", connection_string=url)
        suites = add_suites(context, datasource, store, plans, options)
        if suites:
            checkpoint = context.checkpoints.add(gx.Checkpoint(
                name=f"quality.{store.name}", validation_definitions=[s.validation for s in suites],
                actions=[], result_format=_result_format(),
            ))
            try:
                result = checkpoint.run(run_id=RunIdentifier(run_name=run_id, run_time=run_time))
            except Exception as exc:  # noqa: BLE001 - GX/driver text can echo data; keep the type only
                raise GovernanceError(
                    f"store {store.name}: the quality checkpoint could not run ({type(exc).__name__})") from None
            try:
                by_suite = {s.plan.name: s for s in suites}
                for key, suite_result in result.run_results.items():
                    built = by_suite[suite_result.suite_name]
                    report.outcomes.extend(_outcome(built, evr, options) for evr in suite_result.results)
                    sanitize_suite_result(suite_result, built.plan.name)
                    context.validation_results_store.set(key, suite_result)
            finally:
                _dispose(datasource)
        for skip in skipped:
            report.outcomes.append(RuleOutcome(
                rule=skip.rule.rule, dataset=skip.dataset, entity=skip.rule.entity, severity=skip.rule.severity,
                status=SKIPPED, reason=skip.reason,
            ))
        return Validation(report=report, context=context, suites=suites)
