"""GovernanceHook: Airflow connections -> :class:`governance.config.Settings`.

Inside Airflow the platform is configured with connections, the way operators
configure any other system, instead of ``GOVERNANCE_*`` environment variables:

==========================  ===================================================
connection id               what it holds
==========================  ===================================================
``governance_ledger``       the ledger database (SQLAlchemy URL as the URI)
``governance_objects``      object storage: ``file:///abs/folder`` or
                            ``s3://bucket/prefix`` (extra ``endpoint_url`` for
                            MinIO and other S3-compatible servers)
``governance_state``        the state database (holds, requests, studies, wrapped
                            data keys); default ``GOVERNANCE_STATE_URL``, else
                            the ledger's database
``governance_master_key``   with ``GOVERNANCE_KEY_PROVIDER=airflow``: the master
                            key (64 hex digits or base64) in the password field,
                            from whichever secrets backend Airflow is set up with
                            (Vault, AWS Secrets Manager, GCP Secret Manager...)
``case_store_<name>``       one case store's database; extra ``mapping`` is a
                            built-in mapping name (``reference``, ``homestart``)
                            or the path of a mapping TOML file
==========================  ===================================================

Which stores exist comes from the Airflow Variable ``governance_stores``
(comma-separated names), else the ``GOVERNANCE_STORES`` environment variable,
else ``default``. Home and keys come from ``GOVERNANCE_HOME`` and
``GOVERNANCE_KEYS_DIR``.

In the embedded default (no ``GOVERNANCE_KEY_PROVIDER``) every part whose
connection is missing falls back to what :meth:`Settings.from_env` says for
that part, so Airflow with no connections at all runs on SQLite and a folder
under ``GOVERNANCE_HOME``. Once a key provider is configured the installation
is a deployment: a part with neither a connection nor its ``GOVERNANCE_*``
variable is an error naming the connection, never a silent SQLite file or
local folder on one worker.

Any of the connections may instead carry the exact URL in its extra ``url``
(e.g. conn type ``generic``, extra ``{"url": "postgresql+psycopg://..."}``),
for URLs that Airflow's connection fields cannot express.

Why fields and not ``Connection.get_uri()``: Airflow's URI form is not a
SQLAlchemy URL. ``sqlite:////abs/ledger.db`` parses into ``schema='/abs/ledger.db'``
and comes back from ``get_uri()`` as ``sqlite:///%2Fabs%2Fledger.db``; a
``file:///abs`` URI loses its leading slash into ``schema='abs'``. So the URL is
rebuilt from host/schema/login/password/port/extra, which are what every
secrets backend (env var URI, env var JSON, metadata DB, Vault...) agrees on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Protocol

from airflow.sdk import BaseHook, Variable
from airflow.sdk.exceptions import AirflowNotFoundException
from sqlalchemy.engine import URL

from governance.config import Settings, StoreConfig, sqlite_url
from governance.db import safe_url
from governance.errors import ConfigError

__all__ = [
    "GovernanceHook",
    "LEDGER_CONN_ID",
    "OBJECTS_CONN_ID",
    "STATE_CONN_ID",
    "MASTER_KEY_CONN_ID",
    "STORE_CONN_PREFIX",
    "STORES_VARIABLE",
    "database_url",
    "objects_location",
]

log = logging.getLogger(__name__)

LEDGER_CONN_ID = "governance_ledger"
OBJECTS_CONN_ID = "governance_objects"
STATE_CONN_ID = "governance_state"
MASTER_KEY_CONN_ID = "governance_master_key"
STORE_CONN_PREFIX = "case_store_"
STORES_VARIABLE = "governance_stores"

# Extra keys the platform reads itself; every other extra key of a database
# connection becomes a URL query parameter (e.g. sslmode=require).
_RESERVED_EXTRAS = frozenset({"url", "mapping", "endpoint_url"})
# Airflow names PostgreSQL "postgres"; SQLAlchemy needs the psycopg 3 driver spelled out.
_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "sqlite": "sqlite"}


class ConnectionLike(Protocol):
    """The fields of an Airflow connection this module reads (SDK or core class)."""

    conn_id: str
    conn_type: str | None
    host: str | None
    schema: str | None
    login: str | None
    password: str | None
    port: int | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def database_url(conn: ConnectionLike, *, home: Path) -> str:
    """SQLAlchemy URL for a database connection (ledger or case store).

    SQLite: the file is ``host`` (Airflow's own SQLite convention) or ``schema``
    (what ``sqlite:////abs/file.db`` parses into); relative paths are resolved
    against ``home`` because a worker's working directory is arbitrary.
    """
    extra = conn.extra_dejson
    if extra.get("url"):
        return str(extra["url"])
    conn_type = (conn.conn_type or "").strip().lower()
    if not conn_type:
        raise ConfigError(f"connection {conn.conn_id} has no conn type; expected sqlite, postgres or an extra 'url'")
    driver = _DRIVERS.get(conn_type, conn_type.replace("_", "+"))
    if driver == "sqlite":
        if conn.host and conn.schema:
            raise ConfigError(
                f"connection {conn.conn_id}: give the SQLite file as host or as path, not both "
                "(URI form: sqlite:////absolute/path.db)"
            )
        path = conn.host or conn.schema
        if not path:
            raise ConfigError(f"connection {conn.conn_id}: SQLite connection names no file")
        if path == ":memory:":
            return "sqlite://"
        return sqlite_url(home / path)  # an absolute path overrides home
    query = {key: str(value) for key, value in extra.items() if key not in _RESERVED_EXTRAS}
    return URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema or None,
        query=query,
    ).render_as_string(hide_password=False)


def objects_location(conn: ConnectionLike, *, home: Path) -> tuple[str, str | None]:
    """(objects URL, S3 endpoint or None) for the ``governance_objects`` connection."""
    extra = conn.extra_dejson
    endpoint = str(extra["endpoint_url"]) if extra.get("endpoint_url") else None
    if extra.get("url"):
        return str(extra["url"]), endpoint
    conn_type = (conn.conn_type or "").strip().lower()
    if conn_type == "file":
        # URI form file:///abs/dir parses to host='' schema='abs/dir': the root slash is eaten.
        host = conn.host or ""
        if host.startswith("/"):
            path = Path(host) / (conn.schema or "")
        elif host in ("", "localhost"):
            path = Path("/" + (conn.schema or "").lstrip("/"))
        else:
            raise ConfigError(f"connection {conn.conn_id}: file URLs on another host ({host}) are not supported")
        return (home / path).resolve().as_uri(), endpoint
    if conn_type == "s3":
        if not conn.host:
            raise ConfigError(f"connection {conn.conn_id}: S3 connection names no bucket (s3://bucket/prefix)")
        prefix = (conn.schema or "").strip("/")
        return (f"s3://{conn.host}/{prefix}" if prefix else f"s3://{conn.host}"), endpoint
    raise ConfigError(
        f"connection {conn.conn_id}: conn type {conn_type or '(none)'} is not object storage; "
        "use file:///abs/folder, s3://bucket/prefix or an extra 'url'"
    )


class GovernanceHook(BaseHook):
    """Builds the platform's :class:`Settings` from Airflow connections.

    ``env`` replaces ``os.environ`` for the ``GOVERNANCE_*`` fallbacks (tests).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None, logger_name: str | None = None) -> None:
        super().__init__(logger_name=logger_name)
        self._env = dict(os.environ if env is None else env)
        self._used: list[str] = []  # connection ids found, for the log line

    def get_conn(self) -> Settings:
        """The settings: this hook's "connection" is the whole platform configuration."""
        return self.get_settings()

    def get_settings(self) -> Settings:
        """Resolve every part: connection if defined, else the environment default."""
        self._used = []
        names = self._store_names()
        base = Settings.from_env({**self._env, "GOVERNANCE_STORES": ",".join(names)})
        home = base.home

        ledger_url = base.ledger_url
        ledger = self._optional_connection(LEDGER_CONN_ID, required_env=None if base.embedded else "GOVERNANCE_LEDGER_URL")
        if ledger is not None:
            ledger_url = database_url(ledger, home=home)

        state_url = base.state_url
        state = self._optional_connection(STATE_CONN_ID)
        if state is not None:
            state_url = database_url(state, home=home)

        objects_url, endpoint = base.objects_url, base.s3_endpoint_url
        objects = self._optional_connection(OBJECTS_CONN_ID,
                                            required_env=None if base.embedded else "GOVERNANCE_OBJECTS_URL")
        if objects is not None:
            objects_url, conn_endpoint = objects_location(objects, home=home)
            endpoint = conn_endpoint or endpoint

        stores = tuple(self._store(default, home, strict=not base.embedded) for default in base.stores)
        settings = Settings(
            home=home,
            stores=stores,
            ledger_url=ledger_url,
            objects_url=objects_url,
            keys_dir=base.keys_dir,
            s3_endpoint_url=endpoint,
            state_url=state_url,
            key_provider=base.key_provider,
            kms_key_id=base.kms_key_id,
            kms_endpoint_url=base.kms_endpoint_url,
            key_lookup=self._secret if base.key_provider == "airflow" else None,
        )
        # URLs without passwords, store names: no record content.
        self.log.info(
            "governance settings: ledger=%s objects=%s stores=%s (from connections: %s)",
            safe_url(settings.ledger_url),
            settings.objects_url,
            ",".join(s.name for s in settings.stores),
            ",".join(self._used) or "none",
        )
        return settings

    # -- parts -------------------------------------------------------------------------
    def _store_names(self) -> list[str]:
        raw = Variable.get(STORES_VARIABLE, default=None)
        if raw is None:
            raw = self._env.get("GOVERNANCE_STORES", "default")
        names = [n.strip() for n in str(raw).split(",") if n.strip()]
        if not names:
            raise ConfigError(f"no case store configured (variable {STORES_VARIABLE} / GOVERNANCE_STORES is empty)")
        return names

    def _store(self, default: StoreConfig, home: Path, *, strict: bool = False) -> StoreConfig:
        env_name = f"GOVERNANCE_STORE_{default.name.upper()}_URL"
        conn = self._optional_connection(STORE_CONN_PREFIX + default.name, required_env=env_name if strict else None)
        if conn is None:
            return default
        mapping = conn.extra_dejson.get("mapping") or default.mapping
        return StoreConfig(name=default.name, url=database_url(conn, home=home), mapping=str(mapping))

    def _optional_connection(self, conn_id: str, *, required_env: str | None = None) -> ConnectionLike | None:
        """The connection, or None; with ``required_env`` (a deployment) its absence needs that variable set."""
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            if required_env is not None and not self._env.get(required_env):
                raise ConfigError(f"connection {conn_id} is not defined and {required_env} is not set: a deployment "
                                  "(GOVERNANCE_KEY_PROVIDER set) does not fall back to a file on one worker") from None
            return None
        self._used.append(conn_id)
        return conn

    def _secret(self, conn_id: str) -> str | None:
        """A secret held as a connection (password field, else extra ``key``), via Airflow's secrets backends."""
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            return None
        return conn.password or conn.extra_dejson.get("key") or None
