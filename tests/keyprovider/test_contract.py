"""The contract every key provider keeps, run against every backend on real parts.

Backends: the embedded key file, a mounted key folder (``local``, never creates),
a secrets store reached through a lookup callable (how Airflow's connections and
secrets backends are used), the environment, and AWS KMS (moto's HTTP server).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import boto3
import pytest

from governance.errors import KeyMaterialError
from governance.keyprovider.aws_kms import AwsKmsProvider
from governance.keyprovider.base import KeyProvider
from governance.keyprovider.local import LocalFolderProvider
from governance.keyprovider.lookup import LookupProvider, env_provider

BACKENDS = ["embedded", "mounted-folder", "lookup", "env", "aws-kms"]


@pytest.fixture(scope="module")
def kms_client(moto_server: str):
    return boto3.client("kms", endpoint_url=moto_server, region_name="eu-west-2")


def _factory(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], KeyProvider]:
    """A way to open the *same* provider again, as another process would."""
    if kind == "embedded":
        return lambda: LocalFolderProvider(tmp_path / "keys", create=True)
    if kind == "mounted-folder":
        LocalFolderProvider(tmp_path / "keys", create=True).master_key_id  # noqa: B018 - `keys init` made it
        return lambda: LocalFolderProvider(tmp_path / "keys", create=False)
    secret = os.urandom(32).hex()
    if kind == "lookup":
        vault = {"governance_master_key": secret}
        return lambda: LookupProvider(vault.get, "governance_master_key", name="airflow", where="a test vault")
    if kind == "env":
        return lambda: env_provider({"GOVERNANCE_MASTER_KEY": secret})
    client = request.getfixturevalue("kms_client")
    key_id = client.create_key(Description="governance test master key")["KeyMetadata"]["KeyId"]
    return lambda: AwsKmsProvider(key_id, client=client)


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], KeyProvider]:
    return _factory(request.param, request, tmp_path)


def test_wrap_round_trips_and_hides_the_key(opener) -> None:
    provider = opener()
    key = os.urandom(32)
    blob = provider.wrap(key, "sar-r-0001")
    assert key not in blob and key.hex().encode() not in blob
    assert provider.unwrap(blob, "sar-r-0001") == key
    assert provider.wrap(key, "sar-r-0001") != blob  # fresh nonce (or KMS ciphertext) per wrap


def test_another_process_opening_the_same_provider_unwraps(opener) -> None:
    key = os.urandom(32)
    blob = opener().wrap(key, "retention-tombstones")
    second = opener()
    assert second.unwrap(blob, "retention-tombstones") == key
    assert second.master_key_id == opener().master_key_id


def test_a_blob_presented_under_another_name_does_not_open(opener) -> None:
    provider = opener()
    blob = provider.wrap(os.urandom(32), "sar-r-0001")
    with pytest.raises(KeyMaterialError):
        provider.unwrap(blob, "sar-r-0002")


def test_a_tampered_blob_does_not_open(opener) -> None:
    provider = opener()
    blob = bytearray(provider.wrap(os.urandom(32), "research-master"))
    blob[-3] ^= 0x40
    with pytest.raises(KeyMaterialError):
        provider.unwrap(bytes(blob), "research-master")


def test_only_32_byte_keys_are_wrapped(opener) -> None:
    with pytest.raises(KeyMaterialError):
        opener().wrap(b"short", "x")


def test_errors_and_ids_never_carry_key_material(opener) -> None:
    provider = opener()
    key = os.urandom(32)
    blob = provider.wrap(key, "a")
    with pytest.raises(KeyMaterialError) as caught:
        provider.unwrap(blob, "b")
    for text in (str(caught.value), provider.master_key_id, repr(provider)):
        assert key.hex() not in text
    assert caught.value.__cause__ is None and "\n" not in str(caught.value)


# -- what differs between backends: a missing master key is an error, never a new key ----------


def test_a_mounted_folder_without_the_master_key_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    provider = LocalFolderProvider(tmp_path / "keys", create=False)
    with pytest.raises(KeyMaterialError, match="governance keys init"):
        provider.wrap(os.urandom(32), "x")
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize("secrets", [{}, {"governance_master_key": ""}])
def test_a_missing_secret_is_an_error_naming_it(secrets: dict) -> None:
    provider = LookupProvider(secrets.get, "governance_master_key", name="airflow", where="Airflow's connections")
    with pytest.raises(KeyMaterialError, match="governance_master_key not found in Airflow's connections"):
        provider.wrap(os.urandom(32), "x")


@pytest.mark.parametrize("text", ["not a key", "00" * 16, "zz" * 32])
def test_a_malformed_secret_is_an_error_naming_it_not_quoting_it(text: str) -> None:
    provider = env_provider({"GOVERNANCE_MASTER_KEY": text})
    with pytest.raises(KeyMaterialError, match="GOVERNANCE_MASTER_KEY") as caught:
        provider.wrap(os.urandom(32), "x")
    assert text not in str(caught.value)


def test_an_unknown_kms_key_is_an_error_with_the_kms_code(kms_client) -> None:
    provider = AwsKmsProvider("alias/governance-none", client=kms_client)
    with pytest.raises(KeyMaterialError, match="NotFoundException"):
        provider.wrap(os.urandom(32), "x")


def test_base64_and_hex_master_keys_are_the_same_key() -> None:
    import base64

    raw = os.urandom(32)
    as_hex = env_provider({"GOVERNANCE_MASTER_KEY": raw.hex()})
    as_b64 = env_provider({"GOVERNANCE_MASTER_KEY": base64.b64encode(raw).decode()})
    assert as_b64.unwrap(as_hex.wrap(os.urandom(32), "n"), "n") is not None
    assert as_hex.master_key_id == as_b64.master_key_id
