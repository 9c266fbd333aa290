"""LedgerSigner: the signing key file, created only on purpose, 0600 in 0700, errors without key bytes.

(Moved here from tests/test_keys.py with the signing key itself, issue 13.)
"""

from __future__ import annotations

import hashlib
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.errors import KeyMaterialError
from governance.ledger.signing import SIGNING_KEY_FILE, LedgerSigner, key_id_of, load_public_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_created_only_on_purpose_0600_in_a_0700_folder(tmp_path: Path) -> None:
    keys_dir = tmp_path / "nested" / "keys"
    signer = LedgerSigner(keys_dir)
    assert not signer.exists()
    with pytest.raises(KeyMaterialError, match="no ledger signing key"):
        signer.private_key()
    assert not keys_dir.exists()  # asking for a key never makes one
    key_id = signer.create()
    assert signer.exists() and key_id == signer.key_id()
    assert _mode(keys_dir) == 0o700 and _mode(keys_dir / SIGNING_KEY_FILE) == 0o600
    assert sorted(p.name for p in keys_dir.iterdir()) == [SIGNING_KEY_FILE]  # no temporary files left
    with pytest.raises(KeyMaterialError, match="already exists"):
        signer.create()


def test_key_is_stable_and_its_id_is_the_sha256_prefix_of_the_raw_public_key(tmp_path: Path) -> None:
    LedgerSigner(tmp_path).create()
    first, second = LedgerSigner(tmp_path), LedgerSigner(tmp_path)
    signature = bytes.fromhex(first.sign(b"tree head"))
    second.public_key().verify(signature, b"tree head")  # raises if the keys differ
    raw = first.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert first.fingerprint() == hashlib.sha256(raw).hexdigest()
    assert first.key_id() == second.key_id() == hashlib.sha256(raw).hexdigest()[:16]
    assert key_id_of(load_public_key(first.public_key_pem(), "test")) == first.key_id()


def test_existing_pkcs8_key_is_loaded_not_replaced(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / SIGNING_KEY_FILE).write_bytes(pem)
    assert LedgerSigner(tmp_path).key_id() == key_id_of(key.public_key())
    assert (tmp_path / SIGNING_KEY_FILE).read_bytes() == pem


def test_malformed_key_file_names_the_file_not_the_bytes(tmp_path: Path) -> None:
    (tmp_path / SIGNING_KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyMaterialError) as caught:
        LedgerSigner(tmp_path).private_key()
    assert SIGNING_KEY_FILE in str(caught.value) and "TOPSECRET" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_encrypted_or_wrong_type_keys_are_refused(tmp_path: Path) -> None:
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw"))
    (tmp_path / SIGNING_KEY_FILE).write_bytes(encrypted)
    with pytest.raises(KeyMaterialError, match="malformed or encrypted"):
        LedgerSigner(tmp_path).private_key()
    other = tmp_path / "other"
    other.mkdir()
    (other / SIGNING_KEY_FILE).write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(KeyMaterialError, match="not hold an Ed25519"):
        LedgerSigner(other).private_key()


def test_keys_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "keys"
    target.write_text("not a folder")
    with pytest.raises(KeyMaterialError, match="cannot create keys folder"):
        LedgerSigner(target).create()


def test_racing_creators_agree_on_one_key(tmp_path: Path) -> None:
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        try:
            ids.append(LedgerSigner(tmp_path / "keys").create())
        except KeyMaterialError:
            ids.append(LedgerSigner(tmp_path / "keys").key_id())  # came second: the winner's key stands

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1


def test_a_deployment_never_mints_a_signing_key_on_first_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 db_url: str) -> None:
    """Two Celery workers each minting a key for one new ledger (issue 15 item 3): only keys init makes one."""
    from governance.ledger import Ledger

    monkeypatch.setenv("GOVERNANCE_KEY_PROVIDER", "local")
    worker_keys = tmp_path / "worker-a-keys"
    with Ledger.open(db_url, worker_keys, witness=None) as ledger:
        with pytest.raises(KeyMaterialError, match="run governance keys init"):
            ledger.append(actor="airflow:platform_foundation", action="note")
        assert ledger.head() is None
    assert not (worker_keys / SIGNING_KEY_FILE).exists()
    # The operator's one explicit init, then any worker holding that file appends under it.
    with Ledger.open(db_url, worker_keys, witness=None) as ledger:
        key_id = ledger.init_key()
        entry = ledger.append(actor="airflow:platform_foundation", action="note")
    assert entry.seq == 1 and LedgerSigner(worker_keys).key_id() == key_id
    with Ledger.open(db_url, tmp_path / "worker-b-keys", witness=None) as ledger:
        with pytest.raises(KeyMaterialError, match="is missing: restore"):
            ledger.append(actor="airflow:retention_sweep", action="note")
