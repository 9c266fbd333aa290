"""KeyStore: generated on first use, 0600 files in a 0700 folder, stable, errors without key bytes."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.errors import KeyMaterialError
from governance.keys import SIGNING_KEY_FILE, KeyStore, key_id_of, load_public_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_signing_key_is_created_0600_in_a_0700_folder(tmp_path: Path) -> None:
    keys_dir = tmp_path / "nested" / "keys"
    store = KeyStore(keys_dir)
    assert not store.has_signing_key()
    key = store.signing_key()
    assert isinstance(key, Ed25519PrivateKey)
    assert store.has_signing_key()
    assert _mode(keys_dir) == 0o700
    assert _mode(keys_dir / SIGNING_KEY_FILE) == 0o600
    # No temporary files are left behind.
    assert sorted(p.name for p in keys_dir.iterdir()) == [SIGNING_KEY_FILE]


def test_signing_key_is_stable_across_instances(tmp_path: Path) -> None:
    first = KeyStore(tmp_path)
    second = KeyStore(tmp_path)
    message = b"checkpoint"
    signature = first.signing_key().sign(message)
    second.signing_key().public_key().verify(signature, message)  # raises if the keys differ
    assert first.key_id() == second.key_id()
    assert first.public_key_pem() == second.public_key_pem()


def test_key_id_is_sha256_prefix_of_raw_public_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    raw = store.signing_key().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert store.fingerprint() == hashlib.sha256(raw).hexdigest()
    assert store.key_id() == hashlib.sha256(raw).hexdigest()[:16]
    pem = store.public_key_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id_of(load_public_key(pem, "test")) == store.key_id()


def test_existing_pkcs8_key_is_loaded_not_replaced(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / SIGNING_KEY_FILE).write_bytes(pem)
    store = KeyStore(tmp_path)
    assert store.key_id() == key_id_of(key.public_key())
    assert (tmp_path / SIGNING_KEY_FILE).read_bytes() == pem


def test_malformed_key_file_names_the_file_not_the_bytes(tmp_path: Path) -> None:
    secretish = b"-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n"
    (tmp_path / SIGNING_KEY_FILE).write_bytes(secretish)
    with pytest.raises(KeyMaterialError) as caught:
        KeyStore(tmp_path).signing_key()
    message = str(caught.value)
    assert SIGNING_KEY_FILE in message
    assert "TOPSECRET" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_encrypted_or_wrong_type_keys_are_refused(tmp_path: Path) -> None:
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (tmp_path / SIGNING_KEY_FILE).write_bytes(encrypted)
    with pytest.raises(KeyMaterialError, match="malformed or encrypted"):
        KeyStore(tmp_path).signing_key()
    other = tmp_path / "other"
    other.mkdir()
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (other / SIGNING_KEY_FILE).write_bytes(ec_pem)
    with pytest.raises(KeyMaterialError, match="not hold an Ed25519"):
        KeyStore(other).signing_key()


def test_keys_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "keys"
    target.write_text("not a folder")
    with pytest.raises(KeyMaterialError, match="not a folder"):
        KeyStore(target).signing_key()


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
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        store = KeyStore(tmp_path / "keys")
        barrier.wait()
        ids.append(store.key_id())

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert KeyStore(tmp_path / "keys").key_id() == ids[0]
