"""Data quality: Great Expectations suites over the case stores, and quarantine.

The suites live in ``expectations/`` (one module per dataset, rules in logical
names). This package runs them against a store through GX's SQL datasource
(:mod:`.runner`), quarantines what fails (:mod:`.quarantine`, the
``quality_quarantine`` table the retention sweep reads), publishes Data Docs
with counts only (:mod:`.datadocs`), and decides whether the store passes
(:mod:`.service`). See ``docs/quality.md``.

Great Expectations is imported only inside the functions that run it, never
when this package is imported: DAG parsing and the CLI stay fast, and GX's
import-time log chatter is silenced where it happens (:func:`.runner.quiet_gx`).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "QualityOptions",
    "QualityReport",
    "RuleOutcome",
    "QualityGateError",
    "run_store",
    "active_quarantine_case_ids",
    "asset_uri",
]

_LAZY = {
    "QualityOptions": "governance.quality.options",
    "QualityReport": "governance.quality.report",
    "RuleOutcome": "governance.quality.report",
    "QualityGateError": "governance.quality.service",
    "run_store": "governance.quality.service",
    "active_quarantine_case_ids": "governance.quality.quarantine",
}


def asset_uri(store: str) -> str:
    """The Airflow Asset a store's passing validation publishes (name and URI are this string)."""
    return f"governance://quality/{store}"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
