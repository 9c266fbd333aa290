"""Platform state: the tables capabilities keep beside the ledger.

Holds, quarantine, access requests, studies, findings and disposition batches
are the platform's own records (not case-store content). They live in one
database, by default the ledger's (``Settings.state_database_url``), so that a
job can commit state changes and their ledger entries in one transaction.

Each capability declares its tables on :data:`METADATA` in its own
``tables`` module (table names prefixed with the capability: ``retention_``,
``quality_``, ``sar_``, ``research_``, ``sharing_``) and lists it in
``TABLE_MODULES``. :func:`ensure_schema` creates whatever is missing.

Decision: these tables are created with ``create_all`` while their shapes
settle; the ledger, whose format auditors depend on, is already under Alembic.
Moving state to an Alembic chain of its own (version table
``state_alembic_version``) is tracked in the README.
"""

from __future__ import annotations

import importlib
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.config import Settings
from governance.db import make_engine

__all__ = ["METADATA", "TABLE_MODULES", "ensure_schema", "state_engine"]

METADATA = sa.MetaData()
TABLE_MODULES = (
    "governance.retention.tables",
    "governance.quality.tables",
    "governance.sar.tables",
    "governance.research.tables",
    "governance.sharing.tables",
)
_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def _load_table_modules() -> None:
    for module in TABLE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A capability not installed in this build has no tables; any other
            # missing import is a real error and must surface.
            if exc.name is None or not module.startswith(exc.name):
                raise


def ensure_schema(engine: Engine) -> None:
    """Create every state table that does not exist yet (safe to call repeatedly)."""
    _load_table_modules()
    METADATA.create_all(engine, checkfirst=True)


def state_engine(settings: Settings) -> Engine:
    """The state database's engine, with its tables ensured (cached per URL)."""
    url = settings.state_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            ensure_schema(engine)
            _engines[url] = engine
        return engine
