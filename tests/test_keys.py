"""KeyStore data keys: generated on first use, 0600 files in a 0700 folder, stable, errors without key bytes.

(The ledger signing key's tests moved to tests/ledger/test_signing.py with the key, issue 13.)"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from governance.errors import KeyMaterialError
from governance.keys import KeyStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_key_is_32_random_bytes_0600_and_stable(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    first = store.data_key("objects")
    assert len(first) == 32
    assert _mode(tmp_path / "objects.key") == 0o600
    assert KeyStore(tmp_path).data_key("objects") == first
    assert store.data_key("extracts-2") != first


@pytest.mark.parametrize("name", ["", "Upper", "../escape", "a/b", "dot.name", "x" * 65, "spa ce"])
def test_data_key_name_is_validated(tmp_path: Path, name: str) -> None:
    with pytest.raises(KeyMaterialError, match="not valid"):
        KeyStore(tmp_path).data_key(name)
    assert not any(tmp_path.iterdir())


def test_data_key_of_wrong_length_is_refused(tmp_path: Path) -> None:
    (tmp_path / "objects.key").write_bytes(os.urandom(16))
    with pytest.raises(KeyMaterialError, match="expected 32 bytes, found 16"):
        KeyStore(tmp_path).data_key("objects")


def test_racing_creators_agree_on_one_key(tmp_path: Path) -> None:
    keys: list[bytes] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        store = KeyStore(tmp_path / "keys")
        barrier.wait()
        keys.append(store.data_key("objects"))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert KeyStore(tmp_path / "keys").data_key("objects") == keys[0]
