"""Default task arguments every governance DAG shares.

In one place because one detail is easy to get wrong: in Airflow 3.3
``retry_exponential_backoff`` is a multiplier, so ``True`` would mean x1 (no
backoff). Failures alert through :func:`alert_on_failure` (counts, never content).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from governance_airflow.callbacks import alert_on_failure

__all__ = ["default_args"]


def default_args(
    *,
    owner: str = "information-governance",
    retry_delay: timedelta = timedelta(seconds=30),
    max_retry_delay: timedelta = timedelta(minutes=10),
) -> dict[str, Any]:
    return {
        "owner": owner,
        "retries": 2,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max_retry_delay,
        "on_failure_callback": alert_on_failure,
    }
