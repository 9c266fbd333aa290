"""Data keys in the state database: made once, the same on every host, never made implicitly outside the embedded default."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.config import Settings
from governance.db import make_engine
from governance.errors import ConfigError, KeyMaterialError
from governance.keyprovider import SharedKeys, init_keys, open_keys, open_provider
from governance.keyprovider import tables as t
from governance.keyprovider.local import LocalFolderProvider
from governance.keyprovider.lookup import env_provider
from governance.state import ensure_schema

MASTER = {"GOVERNANCE_MASTER_KEY": os.urandom(32).hex()}


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    ensure_schema(engine)
    return engine


def test_two_hosts_read_the_one_key_the_builder_made(db_url: str) -> None:
    """Issue 15 #1: the key handed over is the key that sealed the bundle, whichever worker asks."""
    builder = SharedKeys(_engine(db_url), env_provider(MASTER))
    deliverer = SharedKeys(_engine(db_url), env_provider(MASTER))  # another process, another host
    made = builder.create("sar-r-0001")
    assert builder.create("sar-r-0001") == made  # a retried build gets the same key
    assert deliverer.data_key("sar-r-0001") == made
    row = _engine(db_url).connect().execute(sa.select(t.data_keys)).mappings().one()
    assert made not in row["wrapped"] and row["provider"] == "env" and row["master_key_id"].startswith("env:")


def test_outside_the_embedded_default_a_missing_key_is_an_error_not_a_new_key(db_url: str) -> None:
    keys = SharedKeys(_engine(db_url), env_provider(MASTER), implicit=False)
    with pytest.raises(KeyMaterialError, match="data key sar-r-0404 is not in the state database"):
        keys.data_key("sar-r-0404")
    assert not keys.has("sar-r-0404")


def test_racing_workers_agree_on_one_key(db_url: str) -> None:
    engine = _engine(db_url)
    results: list[bytes] = []
    barrier = threading.Barrier(4)

    def make() -> None:
        barrier.wait()
        results.append(SharedKeys(engine, env_provider(MASTER)).create("retention-tombstones"))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and len(set(results)) == 1


def test_a_destroyed_key_is_gone_everywhere_and_never_made_again(db_url: str) -> None:
    engine = _engine(db_url)
    keys = SharedKeys(engine, env_provider(MASTER), implicit=True)
    keys.create("sar-r-0002")
    other_host = SharedKeys(engine, env_provider(MASTER), implicit=True)
    assert other_host.data_key("sar-r-0002")  # cached there before the shredding
    assert keys.destroy_data_key("sar-r-0002") is True
    assert keys.destroy_data_key("sar-r-0002") is False
    with pytest.raises(KeyMaterialError, match="destroyed"):
        SharedKeys(engine, env_provider(MASTER), implicit=True).data_key("sar-r-0002")
    with pytest.raises(KeyMaterialError, match="destroyed"):
        keys.create("sar-r-0002")


def test_a_key_wrapped_under_another_master_key_does_not_open(sqlite_url: str) -> None:
    engine = _engine(sqlite_url)
    SharedKeys(engine, env_provider(MASTER)).create("research-master")
    stranger = SharedKeys(engine, env_provider({"GOVERNANCE_MASTER_KEY": os.urandom(32).hex()}))
    with pytest.raises(KeyMaterialError, match="does not open under master key"):
        stranger.data_key("research-master")


def test_the_embedded_default_imports_an_older_key_file_once(tmp_path: Path, sqlite_url: str) -> None:
    """Tombstones written by an older version (key file in keys/) are still recognised."""
    (tmp_path / "keys").mkdir(mode=0o700)
    old = os.urandom(32)
    (tmp_path / "keys" / "retention-tombstones.key").write_bytes(old)
    keys = SharedKeys(_engine(sqlite_url), LocalFolderProvider(tmp_path / "keys", create=True), implicit=True)
    assert keys.data_key("retention-tombstones") == old
    assert keys.destroy_data_key("retention-tombstones")
    assert not (tmp_path / "keys" / "retention-tombstones.key").exists()  # shredding reaches the old file


def _settings(tmp_path: Path, **env: str) -> Settings:
    base = {"GOVERNANCE_HOME": str(tmp_path / "home")}
    return Settings.from_env({**base, **env})


def test_keys_init_makes_the_shared_keys_once_and_hosts_agree(tmp_path: Path, postgres_url: str) -> None:
    env = {"GOVERNANCE_KEY_PROVIDER": "env", "GOVERNANCE_STATE_URL": postgres_url}
    os.environ["GOVERNANCE_MASTER_KEY"] = MASTER["GOVERNANCE_MASTER_KEY"]
    try:
        first = init_keys(_settings(tmp_path, **env))
        again = init_keys(_settings(tmp_path, **env))
        assert first["created"] == ["retention-tombstones", "research-master"] and again["created"] == []
        host_a = open_keys(_settings(tmp_path / "a", **env))
        host_b = open_keys(_settings(tmp_path / "b", **env))
        assert host_a.data_key("retention-tombstones") == host_b.data_key("retention-tombstones")
        assert not host_a.implicit
    finally:
        del os.environ["GOVERNANCE_MASTER_KEY"]
    assert not (tmp_path / "home" / "keys").exists()  # nothing written to a worker's disk


def test_a_configured_provider_needs_governance_home(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="GOVERNANCE_HOME is not set"):
        Settings.from_env({"GOVERNANCE_KEY_PROVIDER": "env"}, cwd=tmp_path)
    assert Settings.from_env({}, cwd=tmp_path).embedded  # the embedded default keeps ./var


@pytest.mark.parametrize("name, message", [("vault", "is not a key provider"), ("airflow", "inside Airflow tasks only"),
                                           ("aws-kms", "GOVERNANCE_KMS_KEY_ID is not set")])
def test_a_misconfigured_provider_is_one_line(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_provider(_settings(tmp_path, GOVERNANCE_KEY_PROVIDER=name))
