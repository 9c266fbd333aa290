"""Settings: environment variables with embedded defaults.

Out of the box everything lives under ``./var`` (``GOVERNANCE_HOME``): one SQLite
case store, a SQLite ledger, a folder of objects and generated keys. Every part
can be pointed elsewhere with an environment variable, or, inside Airflow, by
the connections that ``plugins/governance_airflow/hooks.py`` turns into the same
:class:`Settings`.

Environment variables:

``GOVERNANCE_HOME``                 root of local state (default ``./var``)
``GOVERNANCE_STORES``               comma-separated store names (default ``default``)
``GOVERNANCE_STORE_<NAME>_URL``     SQLAlchemy URL (default SQLite ``<home>/stores/<name>.db``)
``GOVERNANCE_STORE_<NAME>_MAPPING`` built-in mapping name or path to a TOML file (default ``reference``)
``GOVERNANCE_LEDGER_URL``           SQLAlchemy URL (default SQLite ``<home>/ledger.db``)
``GOVERNANCE_OBJECTS_URL``          ``file:///abs/folder`` or ``s3://bucket/prefix`` (default ``<home>/objects``)
``GOVERNANCE_S3_ENDPOINT_URL``      S3-compatible endpoint (MinIO, moto); unset means AWS
``GOVERNANCE_KEYS_DIR``             key files, created 0700/0600 (default ``<home>/keys``)
``GOVERNANCE_STATE_URL``            platform state tables: holds, quarantine, requests, studies,
                                    findings, batches, wrapped data keys (default: the ledger's database)
``GOVERNANCE_KEY_PROVIDER``         who holds the master key that wraps data keys (docs/deploy.md):
                                    unset = the embedded default (a key file made on first use);
                                    ``local`` (a mounted folder), ``env`` (``GOVERNANCE_MASTER_KEY``),
                                    ``airflow`` (a connection, in Airflow tasks), ``aws-kms``
``GOVERNANCE_KMS_KEY_ID``           the KMS key (id, ARN or alias) for ``aws-kms``
``GOVERNANCE_KMS_ENDPOINT_URL``     KMS-compatible endpoint; unset means AWS

Once a key provider is configured the installation is a deployment, not the
embedded default: ``GOVERNANCE_HOME`` must then be set (nothing is written under
whatever folder a worker happens to start in) and no key is created implicitly.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from governance.errors import ConfigError

__all__ = ["StoreConfig", "Settings", "sqlite_url"]

_STORE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL for a SQLite file at an absolute path."""
    return f"sqlite:///{path.resolve()}"


@dataclass(frozen=True)
class StoreConfig:
    """One case store: where its database is and which mapping describes it."""

    name: str
    url: str
    mapping: str = "reference"

    def __post_init__(self) -> None:
        if not _STORE_NAME.match(self.name):
            raise ConfigError(
                f"store name {self.name!r} is not valid: use lower-case letters, digits and _, starting with a letter"
            )


@dataclass(frozen=True)
class Settings:
    """Where the platform's parts live. Build with :meth:`from_env` or directly."""

    home: Path
    stores: tuple[StoreConfig, ...]
    ledger_url: str
    objects_url: str
    keys_dir: Path
    s3_endpoint_url: str | None = None
    state_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    key_provider: str | None = None  # None: the embedded default (governance.keyprovider)
    kms_key_id: str | None = None
    kms_endpoint_url: str | None = None
    # For key_provider="airflow": reads a secret by name (plugins/ passes it; governance/ never imports airflow).
    key_lookup: Callable[[str], str | None] | None = field(default=None, compare=False, repr=False)

    @property
    def embedded(self) -> bool:
        """The single-machine default: keys may be created on first use."""
        return self.key_provider is None

    @property
    def state_database_url(self) -> str:
        """Where the platform's own state tables live: beside the ledger unless set."""
        return self.state_url or self.ledger_url

    def __post_init__(self) -> None:
        names = [s.name for s in self.stores]
        if not names:
            raise ConfigError("no case store configured (GOVERNANCE_STORES is empty)")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"store configured twice: {', '.join(duplicates)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> "Settings":
        env = os.environ if env is None else env
        base = Path(cwd) if cwd is not None else Path.cwd()
        provider = (env.get("GOVERNANCE_KEY_PROVIDER") or "").strip().lower() or None
        if provider is not None and not env.get("GOVERNANCE_HOME"):
            raise ConfigError(f"GOVERNANCE_HOME is not set: with GOVERNANCE_KEY_PROVIDER={provider} the platform "
                              "will not write under the current folder")
        home = (base / env.get("GOVERNANCE_HOME", "var")).resolve()
        names = [n.strip() for n in env.get("GOVERNANCE_STORES", "default").split(",") if n.strip()]
        stores = tuple(
            StoreConfig(
                name=name,
                url=env.get(f"GOVERNANCE_STORE_{name.upper()}_URL", sqlite_url(home / "stores" / f"{name}.db")),
                mapping=env.get(f"GOVERNANCE_STORE_{name.upper()}_MAPPING", "reference"),
            )
            for name in names
        )
        return cls(
            home=home,
            stores=stores,
            ledger_url=env.get("GOVERNANCE_LEDGER_URL", sqlite_url(home / "ledger.db")),
            objects_url=env.get("GOVERNANCE_OBJECTS_URL", (home / "objects").as_uri()),
            keys_dir=Path(env.get("GOVERNANCE_KEYS_DIR", str(home / "keys"))).resolve(),
            s3_endpoint_url=env.get("GOVERNANCE_S3_ENDPOINT_URL") or None,
            state_url=env.get("GOVERNANCE_STATE_URL") or None,
            key_provider=provider,
            kms_key_id=env.get("GOVERNANCE_KMS_KEY_ID") or None,
            kms_endpoint_url=env.get("GOVERNANCE_KMS_ENDPOINT_URL") or None,
        )

    def store(self, name: str = "default") -> StoreConfig:
        for store in self.stores:
            if store.name == name:
                return store
        known = ", ".join(s.name for s in self.stores)
        raise ConfigError(f"no case store named {name!r} is configured (configured: {known})")
