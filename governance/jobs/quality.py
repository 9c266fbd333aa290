"""Jobs of the ``data_quality`` DAG: list the stores, validate one store.

:func:`validate_store` is one mapped task: it runs
:func:`governance.quality.service.run_store` with the run's ``as_of`` and
returns the summary (identifiers, counts, rule names, object-store URIs).
Safe to retry: validation only reads the store, the quarantine sync inserts
only what is not already quarantined and releases only what is still active,
and the Data Docs site is rewritten.

This is the boundary where the wall clock is read, for the quarantine
timestamps and the GX run time; every rule compares against ``as_of``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from governance.config import Settings
from governance.errors import ConfigError

__all__ = ["configured_stores", "validate_store", "parse_as_of", "ACTOR_PREFIX"]

ACTOR_PREFIX = "airflow:data_quality"


def configured_stores(settings: Settings) -> list[str]:
    """Names of the configured case stores, one mapped validation each."""
    return [store.name for store in settings.stores]


def parse_as_of(value: date | str | None, fallback: date | None = None) -> date:
    """``value`` as a date (ISO text or a timestamp's date), else ``fallback``; one of them is needed."""
    if value is None or value == "":
        if fallback is None:
            raise ConfigError("as_of is required: the date the rules compare against (YYYY-MM-DD)")
        return fallback
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ConfigError(f"as_of is not a date in YYYY-MM-DD form: {str(value)[:40]!r}") from None


def validate_store(
    settings: Settings,
    *,
    store: str,
    as_of: date | str,
    run_id: str,
    actor: str = ACTOR_PREFIX,
    dormant_years: int = 3,
    max_quarantined_share: float = 0.25,
    publish: bool = True,
) -> dict[str, Any]:
    """Validate one configured store; see :func:`governance.quality.service.run_store`."""
    from governance.quality.options import QualityOptions
    from governance.quality.service import run_store

    day = parse_as_of(as_of)
    options = QualityOptions(as_of=day, dormant_years=int(dormant_years), max_quarantined_share=float(max_quarantined_share))
    return run_store(settings, store, options, run_id=run_id, actor=actor, at=datetime.now(timezone.utc), publish=publish)
