"""Everything a retention step needs, opened once from settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from governance.config import Settings
from governance.keyprovider import SharedKeys, open_keys
from governance.ledger import Ledger
from governance.retention.schedule import Schedule, load_schedule
from governance.state import state_engine
from governance.storage import ObjectStore
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore
from governance.unit import open_ledger

__all__ = ["RetentionContext"]


@dataclass
class RetentionContext:
    store: CaseStore
    state: Engine
    ledger: Ledger
    objects: ObjectStore
    schedule: Schedule
    keys: SharedKeys  # data keys shared by every host (tombstones, SAR bundle keys)
    settings: Settings | None = None  # for the capabilities whose copies a destruction chases

    @classmethod
    def open(cls, settings: Settings, store_name: str = "default", *, schedule: Schedule | None = None) -> "RetentionContext":
        return cls(
            store=CaseStore.open(settings.store(store_name)),
            state=state_engine(settings),
            ledger=open_ledger(settings),
            objects=open_objects(settings),
            schedule=schedule or load_schedule(),
            keys=open_keys(settings),
            settings=settings,
        )

    @property
    def one_database(self) -> bool:
        """Store, state and ledger in one database: a chunk commits with its ledger entry."""
        return self.ledger.shares_database(self.state) and self.ledger.shares_database(self.store.engine)

    def ledger_connection(self, state_conn):
        """Pass the state transaction to the ledger when they share a database."""
        return state_conn if self.ledger.shares_database(self.state) else None

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> "RetentionContext":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
