"""GovernanceHook: Airflow connections (from AIRFLOW_CONN_* variables) -> Settings.

Covers the URI and JSON connection forms, the round trip through Airflow's own
``get_uri()`` (what the secrets cache stores), the fallback to the embedded
default when connections are missing, and the environment
``scripts/airflow_env.py`` writes.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Airflow reads its configuration at import: a private AIRFLOW_HOME first (the
# same one tests/dags uses when both run in one session).
_HOME = os.environ.get("GOVERNANCE_TEST_AIRFLOW_HOME")
if not _HOME:
    _HOME = tempfile.mkdtemp(prefix="gov-airflow-test-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
    os.environ["GOVERNANCE_TEST_AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
for _path in (str(REPO), str(REPO / "plugins")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

pytest.importorskip("airflow")

from airflow.sdk import Connection  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from governance.config import Settings, StoreConfig  # noqa: E402
from governance.errors import ConfigError  # noqa: E402
from governance_airflow.callbacks import failure_summary  # noqa: E402
from governance_airflow.hooks import GovernanceHook, database_url, objects_location  # noqa: E402


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No governance connections, variables or settings from the shell; a fresh home."""
    for name in list(os.environ):
        if name.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_")) or (
            name.startswith("GOVERNANCE_") and not name.startswith("GOVERNANCE_TEST_")
        ):
            monkeypatch.delenv(name)
    home = tmp_path / "var"
    monkeypatch.setenv("GOVERNANCE_HOME", str(home))
    return home


def _settings() -> Settings:
    return GovernanceHook().get_settings()


# -- fallback -----------------------------------------------------------------------


def test_no_connections_means_the_embedded_default(clean_env: Path) -> None:
    assert _settings() == Settings.from_env()
    assert _settings().ledger_url == f"sqlite:///{clean_env.resolve() / 'ledger.db'}"


def test_each_missing_connection_falls_back_on_its_own(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", "sqlite:////srv/gov/ledger.db")
    settings = _settings()
    default = Settings.from_env()
    assert settings.ledger_url == "sqlite:////srv/gov/ledger.db"
    assert settings.objects_url == default.objects_url
    assert settings.stores == default.stores
    assert settings.keys_dir == default.keys_dir


def test_home_and_keys_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("GOVERNANCE_KEYS_DIR", str(tmp_path / "k"))
    settings = _settings()
    assert settings.home == (tmp_path / "h").resolve()
    assert settings.keys_dir == (tmp_path / "k").resolve()


# -- ledger and store databases -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "sqlite:////srv/gov/ledger.db",  # URI form: the path lands in `schema`
        json.dumps({"conn_type": "sqlite", "host": "/srv/gov/ledger.db"}),  # Airflow's SQLite convention
        json.dumps({"conn_type": "generic", "extra": {"url": "sqlite:////srv/gov/ledger.db"}}),
    ],
    ids=["uri", "json-host", "extra-url"],
)
def test_sqlite_ledger(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", value)
    assert _settings().ledger_url == "sqlite:////srv/gov/ledger.db"


def test_relative_sqlite_path_is_under_governance_home(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", "sqlite:///audit/ledger.db")
    assert _settings().ledger_url == f"sqlite:///{clean_env.resolve() / 'audit' / 'ledger.db'}"


def test_postgres_uri_keeps_credentials_port_and_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVERNANCE_LEDGER", "postgresql://gov:p%40ss%2Fw%3Ard@db.example:5433/ledger?sslmode=require"
    )
    url = make_url(_settings().ledger_url)
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "gov", "p@ss/w:rd", "db.example", 5433, "ledger"
    )
    assert dict(url.query) == {"sslmode": "require"}


def test_postgres_json_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVERNANCE_LEDGER",
        json.dumps({"conn_type": "postgres", "host": "db", "login": "gov", "password": "pw", "port": 5432,
                    "schema": "ledger"}),
    )
    assert _settings().ledger_url == "postgresql+psycopg://gov:pw@db:5432/ledger"


def test_two_stores_with_their_mappings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_GOVERNANCE_STORES", "default, homestart")
    monkeypatch.setenv("AIRFLOW_CONN_CASE_STORE_DEFAULT", "postgresql://la@db/cases?mapping=reference")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CASE_STORE_HOMESTART",
        json.dumps({"conn_type": "sqlite", "host": "/srv/homestart.db", "extra": {"mapping": "homestart"}}),
    )
    assert _settings().stores == (
        StoreConfig("default", "postgresql+psycopg://la@db/cases", "reference"),
        StoreConfig("homestart", "sqlite:////srv/homestart.db", "homestart"),
    )


def test_store_list_from_environment_and_missing_store_connection(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVERNANCE_STORES", "default,homestart")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CASE_STORE_HOMESTART", "sqlite:////srv/homestart.db?mapping=%2Fsrv%2Fmappings%2Fhs.toml"
    )
    default, homestart = _settings().stores
    assert default == StoreConfig("default", f"sqlite:///{clean_env.resolve() / 'stores' / 'default.db'}")
    assert homestart == StoreConfig("homestart", "sqlite:////srv/homestart.db", "/srv/mappings/hs.toml")


def test_variable_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_STORES", "default,homestart")
    monkeypatch.setenv("AIRFLOW_VAR_GOVERNANCE_STORES", "homestart")
    assert [s.name for s in _settings().stores] == ["homestart"]


# -- objects --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "file:///srv/gov/objects",
        json.dumps({"conn_type": "file", "host": "/srv/gov/objects"}),
    ],
    ids=["uri", "json-host"],
)
def test_local_folder_objects(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", value)
    settings = _settings()
    assert settings.objects_url == "file:///srv/gov/objects"
    assert settings.s3_endpoint_url is None


@pytest.mark.parametrize(
    "value",
    [
        "s3://records-bucket/gov/objects?endpoint_url=http%3A%2F%2F127.0.0.1%3A9000",
        json.dumps({"conn_type": "s3", "host": "records-bucket", "schema": "gov/objects",
                    "extra": {"endpoint_url": "http://127.0.0.1:9000"}}),
        json.dumps({"conn_type": "aws", "extra": {"url": "s3://records-bucket/gov/objects",
                                                  "endpoint_url": "http://127.0.0.1:9000"}}),
    ],
    ids=["uri", "json", "extra-url"],
)
def test_s3_objects_with_endpoint(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", value)
    settings = _settings()
    assert settings.objects_url == "s3://records-bucket/gov/objects"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"


def test_s3_endpoint_falls_back_to_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "s3://bucket")
    settings = _settings()
    assert (settings.objects_url, settings.s3_endpoint_url) == ("s3://bucket", "http://minio:9000")


# -- malformed connections --------------------------------------------------------------


def test_sqlite_with_host_and_path_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", "sqlite://var/ledger.db")
    with pytest.raises(ConfigError, match="governance_ledger"):
        _settings()


def test_database_connection_as_objects_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "postgresql://db/objects")
    with pytest.raises(ConfigError, match="not object storage"):
        _settings()


# -- Airflow's own serialisations round-trip ------------------------------------------

_ROUND_TRIP = {
    "sqlite-uri": ("sqlite:////srv/Gov Data/ledger.db", "sqlite:////srv/Gov Data/ledger.db"),
    "sqlite-json": (json.dumps({"conn_type": "sqlite", "host": "/srv/Gov Data/ledger.db"}),
                    "sqlite:////srv/Gov Data/ledger.db"),
    "postgres": ("postgresql://gov:p%40ss@db.example:5433/ledger?sslmode=require&mapping=homestart",
                 "postgresql+psycopg://gov:p%40ss@db.example:5433/ledger?sslmode=require"),
    "file-uri": ("file:///srv/Gov%20Data/objects", ("file:///srv/Gov%20Data/objects", None)),
    "file-json": (json.dumps({"conn_type": "file", "host": "/srv/Gov Data/objects"}),
                  ("file:///srv/Gov%20Data/objects", None)),
    "s3": ("s3://bucket/a/b?endpoint_url=http%3A%2F%2F127.0.0.1%3A9000", ("s3://bucket/a/b", "http://127.0.0.1:9000")),
}


def _parse(value: str) -> Connection:
    if value.startswith("{"):
        return Connection.from_json(value, conn_id="x")
    return Connection.from_uri(value, conn_id="x")


def _convert(conn: Connection, home: Path) -> object:
    if conn.conn_type in ("file", "s3"):
        return objects_location(conn, home=home)
    return database_url(conn, home=home)


@pytest.mark.parametrize("name", sorted(_ROUND_TRIP))
def test_connections_survive_airflows_uri_and_json_round_trips(name: str, tmp_path: Path) -> None:
    """The secrets cache stores ``get_uri()``; the metadata DB stores fields: same result."""
    value, expected = _ROUND_TRIP[name]
    conn = _parse(value)
    assert _convert(conn, tmp_path) == expected
    assert _convert(Connection.from_uri(conn.get_uri(), conn_id="x"), tmp_path) == expected
    assert _convert(Connection.from_json(conn.as_json(), conn_id="x"), tmp_path) == expected


# -- scripts/airflow_env.py --------------------------------------------------------------


def _airflow_env_module():
    spec = importlib.util.spec_from_file_location("airflow_env", REPO / "scripts" / "airflow_env.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_airflow_env_connections_name_the_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "odd home%#"
    env = _airflow_env_module().airflow_env(REPO, home, base={"PATH": "/usr/bin"})
    assert env["AIRFLOW_HOME"] == str(home.resolve() / "airflow")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(REPO / "dags")
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(REPO / "plugins")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["PATH"].split(os.pathsep)[-1] == "/usr/bin"
    assert Path(env["PATH"].split(os.pathsep)[0], "python").exists()
    assert str(REPO) in env["PYTHONPATH"].split(os.pathsep)

    for name, value in env.items():
        if name.startswith(("AIRFLOW_CONN_", "GOVERNANCE_")):
            monkeypatch.setenv(name, value)
    # What the hook reads from those connections is exactly the embedded default.
    assert _settings() == Settings.from_env({"GOVERNANCE_HOME": str(home)})


# -- failure alert (plugins/governance_airflow/callbacks.py) ------------------------------


class _FakeTI:
    dag_id, task_id, run_id, try_number, map_index = "d", "t", "manual__1", 3, -1

    def xcom_pull(self, task_ids: str, key: str) -> object:
        return {"rows_done": 1200, "note": "Jane Doe, 1 High St", "flag": True}


def test_failure_summary_keeps_numbers_and_names_only_governance_errors() -> None:
    summary = failure_summary({"ti": _FakeTI(), "exception": ValueError("Jane Doe born 2012-01-01")})
    assert summary["counts"] == {"rows_done": 1200}
    assert summary["error"] == "ValueError"
    assert (summary["dag_id"], summary["task_id"], summary["run_id"], summary["try_number"]) == (
        "d", "t", "manual__1", 3
    )
    assert failure_summary({"ti": _FakeTI(), "exception": ConfigError("store x misconfigured")})["error"] == (
        "ConfigError: store x misconfigured"
    )


# -- a deployment (issue 15): state URL passed, key provider through Airflow, no silent fallback ---------


def test_the_state_database_comes_from_its_connection_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_STATE_URL", "postgresql+psycopg://gov@db.example.org/state")
    assert _settings().state_url == "postgresql+psycopg://gov@db.example.org/state"  # was dropped before
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_STATE", "postgres://gov@db2.example.org:5432/state")
    assert _settings().state_database_url == "postgresql+psycopg://gov@db2.example.org:5432/state"


def _deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVERNANCE_KEY_PROVIDER", "airflow")
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", "postgres://gov@db.example.org/ledger")
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "s3://governance-objects/prod")
    monkeypatch.setenv("AIRFLOW_CONN_CASE_STORE_DEFAULT", "postgres://gov@db.example.org/cases")


@pytest.mark.parametrize("missing, named", [("AIRFLOW_CONN_GOVERNANCE_LEDGER", "governance_ledger"),
                                            ("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "governance_objects"),
                                            ("AIRFLOW_CONN_CASE_STORE_DEFAULT", "case_store_default")])
def test_a_deployment_never_falls_back_to_a_file_on_one_worker(missing: str, named: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _deployment(monkeypatch)
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=f"connection {named} is not defined"):
        _settings()


def test_a_deployment_without_governance_home_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _deployment(monkeypatch)
    monkeypatch.delenv("GOVERNANCE_HOME")
    with pytest.raises(ConfigError, match="GOVERNANCE_HOME is not set"):
        _settings()


def test_the_master_key_comes_through_airflows_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    from governance.errors import KeyMaterialError
    from governance.keyprovider import open_provider

    _deployment(monkeypatch)
    settings = _settings()
    with pytest.raises(KeyMaterialError, match="governance_master_key not found in Airflow's connections"):
        open_provider(settings).wrap(os.urandom(32), "x")
    master = os.urandom(32).hex()
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_MASTER_KEY", json.dumps({"conn_type": "generic", "password": master}))
    provider = open_provider(_settings())
    key = os.urandom(32)
    assert provider.name == "airflow" and provider.unwrap(provider.wrap(key, "sar-r-1"), "sar-r-1") == key
    from governance.keyprovider.lookup import env_provider
    # The CLI on an admin host, given the same key as GOVERNANCE_MASTER_KEY, opens what a worker wrapped.
    assert env_provider({"GOVERNANCE_MASTER_KEY": master}).unwrap(provider.wrap(key, "n"), "n") == key
