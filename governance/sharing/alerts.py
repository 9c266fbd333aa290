"""The IG team's alert: one log line per store with counts, never content.

Written to the ``governance.alerts`` logger (the same logger as task-failure
alerts, so one log-alert rule catches both). The line starts with
``SHARING COMPLIANCE`` and carries the store name, run id, as-of date and
numbers per rule code: no record ids (those are in the findings table and the
ledger), no names, no note text. WARNING when a store has open findings,
INFO when it has none.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

__all__ = ["alert_line", "alert_ig_team", "ALERT_PREFIX"]

log = logging.getLogger("governance.alerts")
ALERT_PREFIX = "SHARING COMPLIANCE"
_NUMBERS = ("open", "new", "reopened", "resolved_no_longer_detected", "still_detected_resolved_with_note", "open_total")


def _number(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def alert_line(result: Mapping[str, Any]) -> str:
    """The alert text for one store's run result (:func:`governance.sharing.compliance.run_compliance`)."""
    numbers = " ".join(f"{key}={_number(result.get(key))}" for key in _NUMBERS)
    by_rule = result.get("by_rule") or {}
    rules = " ".join(f"{str(rule)}={_number(n)}" for rule, n in sorted(by_rule.items()) if _number(n))
    return (f"{ALERT_PREFIX} store={result.get('store')} run_id={result.get('run_id')} as_of={result.get('as_of')} "
            f"{numbers}" + (f" by_rule: {rules}" if rules else ""))


def alert_ig_team(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Log one alert line per store; return totals (stores, open, new) for XCom."""
    totals = {"stores": 0, "stores_with_open_findings": 0, "open": 0, "new": 0}
    for result in results:
        open_now = _number(result.get("open_total"))
        totals["stores"] += 1
        totals["open"] += open_now
        totals["new"] += _number(result.get("new"))
        if open_now:
            totals["stores_with_open_findings"] += 1
        log.log(logging.WARNING if open_now else logging.INFO, "%s", alert_line(result))
    return totals
