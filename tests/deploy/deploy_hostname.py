"""Airflow ``hostname_callable`` for the deployment test: each worker names itself.

Both Celery workers run on one machine, so ``socket.getfqdn()`` would give the
same name to both; the test needs to see which worker ran which task.
"""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    return os.environ.get("GOVERNANCE_TEST_WORKER_NAME") or socket.getfqdn()
