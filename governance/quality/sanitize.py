"""Strip GX validation results down to counts before anything stores or renders them.

The rules return identifiers only, so GX's results hold identifiers, not
values; but an expectation that raised carries the database's error text
(which can echo data), batch metadata carries the asset's queries, and any
other kind of expectation would carry failing *values* (``unexpected_list``,
``partial_unexpected_list``...). So, once the runner has read the identifiers
it needs, every result goes through :func:`sanitize_suite_result`: an
allow-list of numeric counts survives, nothing else. Data Docs are built only
from these sanitized results, so the site cannot show a value, a name or note
text, nor the identifiers (those are in the quarantine table and the ledger).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["COUNT_KEYS", "sanitize_result", "sanitize_suite_result", "error_type", "raised"]

#: The only result entries kept: numbers about rows.
COUNT_KEYS = frozenset({
    "element_count", "missing_count", "missing_percent", "unexpected_count", "unexpected_percent",
    "unexpected_percent_total", "unexpected_percent_nonmissing", "observed_value",
})
_META_KEYS = frozenset({"great_expectations_version", "run_id", "validation_time", "validation_id", "checkpoint_id"})
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning)):", re.MULTILINE)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def raised(exception_info: Any) -> bool:
    """Whether GX recorded an exception (top level, or per metric as GX 1.x nests it)."""
    if not isinstance(exception_info, dict):
        return False
    if exception_info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exception_info.values())


def error_type(exception_info: Any) -> str:
    """The innermost exception's class name, from GX's traceback text (never its message)."""
    texts: list[str] = []
    if isinstance(exception_info, dict):
        for value in (exception_info, *exception_info.values()):
            if isinstance(value, dict) and isinstance(value.get("exception_traceback"), str):
                texts.append(value["exception_traceback"])
    names = [m.group(1).rsplit(".", 1)[-1] for text in texts for m in _EXCEPTION_LINE.finditer(text)]
    return names[-1] if names else "Exception"


def sanitize_result(evr: Any) -> None:
    """Reduce one ExpectationValidationResult to counts, in place."""
    result = evr.result or {}
    evr.result = {k: v for k, v in result.items() if k in COUNT_KEYS and _is_number(v)}
    if raised(evr.exception_info):
        evr.exception_info = {
            "raised_exception": True,
            "exception_message": f"{error_type(evr.exception_info)}: this rule could not be evaluated",
            "exception_traceback": None,
        }
    else:
        evr.exception_info = {"raised_exception": False, "exception_message": None, "exception_traceback": None}
    evr.rendered_content = None


def sanitize_suite_result(suite_result: Any, asset_name: str) -> None:
    """Sanitize every result of a suite run, and its metadata (no queries, no batch details)."""
    for evr in suite_result.results:
        sanitize_result(evr)
    meta = {k: v for k, v in (suite_result.meta or {}).items() if k in _META_KEYS}
    meta["active_batch_definition"] = {"data_asset_name": asset_name}
    meta["batch_spec"] = {"data_asset_name": asset_name}
    meta["batch_markers"] = {}
    suite_result.meta = meta
