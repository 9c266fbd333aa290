"""AWS KMS as the key provider: the master key never leaves KMS.

``wrap`` is KMS ``Encrypt`` and ``unwrap`` is ``Decrypt`` under the configured
key (id, ARN or alias), with the data key's name as the encryption context, so
KMS itself refuses a blob presented under another name. Works against any
KMS-compatible endpoint (``GOVERNANCE_KMS_ENDPOINT_URL``; moto in the tests).
"""

from __future__ import annotations

from typing import Any

from governance.errors import ConfigError, KeyMaterialError
from governance.keyprovider.base import KeyProvider, check_data_key

__all__ = ["AwsKmsProvider"]

_CONTEXT = "governance-key"


class AwsKmsProvider(KeyProvider):
    name = "aws-kms"

    def __init__(self, key_id: str, *, endpoint_url: str | None = None, region: str | None = None,
                 client: Any = None) -> None:
        if not key_id:
            raise ConfigError("GOVERNANCE_KMS_KEY_ID is not set (the KMS key id, ARN or alias that wraps data keys)")
        self.key_id = key_id
        self._endpoint, self._region, self._client = endpoint_url, region, client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("kms", endpoint_url=self._endpoint, region_name=self._region)
        return self._client

    @property
    def master_key_id(self) -> str:
        return f"aws-kms:{self.key_id}"

    def _call(self, what: str, context: str, **kwargs: Any) -> dict:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, what)(KeyId=self.key_id, EncryptionContext={_CONTEXT: context}, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise KeyMaterialError(f"KMS {what} of key {context} under {self.key_id} failed: {code}") from None
        except BotoCoreError as exc:
            raise KeyMaterialError(f"KMS {what} of key {context} failed: {type(exc).__name__}") from None

    def wrap(self, key: bytes, context: str) -> bytes:
        return bytes(self._call("encrypt", context, Plaintext=check_data_key(key))["CiphertextBlob"])

    def unwrap(self, blob: bytes, context: str) -> bytes:
        plain = bytes(self._call("decrypt", context, CiphertextBlob=bytes(blob))["Plaintext"])
        return check_data_key(plain)
