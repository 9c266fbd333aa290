"""The key-manager contract every implementation passes (local today; a cloud KMS adapter later)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from governance.errors import KeyMaterialError
from governance.keyprovider import SharedKeys
from governance.keyprovider.local import LocalFolderProvider
from governance.research.errors import KeyDestroyed
from governance.research.kms import KeyManager, LocalKeyManager
from governance.state import ensure_schema
from governance.db import make_engine


def _local(tmp: Path, keys_dir: str = "keys", db: str = "state.db") -> LocalKeyManager:
    engine = make_engine(f"sqlite:///{tmp / db}")
    ensure_schema(engine)
    return LocalKeyManager(SharedKeys(engine, LocalFolderProvider(tmp / keys_dir, create=True), implicit=True))


IMPLEMENTATIONS = {"local": _local}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def kms(request, tmp_path: Path) -> KeyManager:
    return IMPLEMENTATIONS[request.param](tmp_path)


def test_wrap_then_unwrap_round_trips_and_names_a_key(kms: KeyManager) -> None:
    key = os.urandom(32)
    blob = kms.wrap(key)
    assert key not in blob
    assert kms.unwrap(blob) == key
    assert kms.key_id(blob) == kms.key_id(blob) and kms.key_id(blob).startswith("rk-")
    assert kms.key_id(kms.wrap(key)) != kms.key_id(blob)  # every wrap is a new key id


def test_destroy_makes_every_copy_of_the_blob_unopenable(kms: KeyManager) -> None:
    blob = kms.wrap(os.urandom(32))
    other = kms.wrap(os.urandom(32))
    kms.destroy(kms.key_id(blob))
    kms.destroy(kms.key_id(blob))  # idempotent
    with pytest.raises(KeyDestroyed):
        kms.unwrap(bytes(blob))
    assert len(kms.unwrap(other)) == 32  # only that key


def test_a_tampered_or_relabelled_blob_does_not_open(kms: KeyManager) -> None:
    blob = bytearray(kms.wrap(os.urandom(32)))
    blob[-1] ^= 1
    with pytest.raises(KeyMaterialError):
        kms.unwrap(bytes(blob))
    relabelled = bytearray(kms.wrap(os.urandom(32)))
    relabelled[5] ^= 1  # inside the key id
    with pytest.raises(KeyMaterialError):
        kms.unwrap(bytes(relabelled))


def test_local_blobs_need_the_same_state_database_and_master_key(tmp_path: Path) -> None:
    blob = _local(tmp_path, "a", "a.db").wrap(os.urandom(32))
    with pytest.raises(KeyMaterialError, match="does not unwrap"):
        _local(tmp_path, "b", "b.db").unwrap(blob)
    assert oct((tmp_path / "a" / "master.key").stat().st_mode & 0o777) == "0o600"


def test_two_hosts_sharing_the_state_database_and_master_key_open_each_others_blobs(tmp_path: Path) -> None:
    """Issue 15 #2: a study built on one worker ends on another (no per-host research master key)."""
    import shutil

    first = _local(tmp_path, "host-a", "shared.db")
    key = os.urandom(32)
    blob = first.wrap(key)
    shutil.copytree(tmp_path / "host-a", tmp_path / "host-b")  # the same master key mounted on both hosts
    second = _local(tmp_path, "host-b", "shared.db")
    assert second.unwrap(blob) == key
    second.destroy(second.key_id(blob))
    with pytest.raises(KeyDestroyed):
        first.unwrap(blob)  # the destruction is seen on every host
