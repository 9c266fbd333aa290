"""Jobs of the ``sharing_compliance`` DAG (and ``governance sharing run``).

- :func:`stores_to_check`: the configured stores (one mapped task each).
- :func:`check_store`: one store's compliance run: findings table and ledger.
- :func:`alert_ig_team`: one alert line per store with counts; totals for XCom.

Each returns identifiers and counts only. ``check_store`` is safe to retry:
findings are reconciled idempotently per run id, and the ledger entry of an
earlier try of the same run is found instead of appended twice.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping

from governance.config import Settings
from governance.errors import ConfigError
from governance.sharing.policy import DEFAULT_PRIVACY_NOTICE_DAYS

__all__ = ["stores_to_check", "check_store", "alert_ig_team", "parse_as_of"]


def parse_as_of(value: str | date) -> date:
    """A ``YYYY-MM-DD`` date (or a date), or a one-line ConfigError."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ConfigError(f"as_of {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None


def stores_to_check(settings: Settings) -> list[str]:
    """Names of the configured case stores, in configuration order."""
    return [store.name for store in settings.stores]


def check_store(
    settings: Settings, *, store: str, as_of: str | date, run_id: str, actor: str,
    privacy_notice_days: int = DEFAULT_PRIVACY_NOTICE_DAYS,
) -> dict[str, Any]:
    """Run the sharing compliance checks on one store; returns counts, rule codes and the ledger seq."""
    from governance.sharing.compliance import run_compliance
    from governance.unit import Unit

    with Unit.open(settings) as unit:
        case_store = unit.store(store)
        case_store.check_schema()
        result = run_compliance(
            case_store, unit=unit, as_of=parse_as_of(as_of), run_id=run_id, actor=actor,
            at=datetime.now(timezone.utc), privacy_notice_days=int(privacy_notice_days),
        )
        unit.ledger.checkpoint()
    return result


def alert_ig_team(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Alert the IG team with counts per store (log lines on ``governance.alerts``)."""
    from governance.sharing.alerts import alert_ig_team as alert

    return alert(list(results))
