"""A master key held by a secrets store, reached through a lookup callable.

Inside Airflow the callable reads a connection (``plugins/governance_airflow/keys.py``),
so whatever secrets backend Airflow is configured with (HashiCorp Vault, AWS
Secrets Manager, GCP Secret Manager, environment variables, the metadata
database) holds the key; governance/ never imports Airflow. Outside Airflow the
``env`` provider reads ``GOVERNANCE_MASTER_KEY`` (how the CLI on an admin host
reaches the same key). A key that cannot be found is an error: never a new key.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

from governance.errors import KeyMaterialError
from governance.keyprovider.base import AesGcmProvider, parse_key_text

__all__ = ["LookupProvider", "env_provider", "MASTER_KEY_ENV"]

MASTER_KEY_ENV = "GOVERNANCE_MASTER_KEY"


class LookupProvider(AesGcmProvider):
    """``lookup(secret_name)`` returns the key text (hex or base64), or None if there is none."""

    def __init__(self, lookup: Callable[[str], str | None], secret_name: str, *, name: str, where: str) -> None:
        self._lookup = lookup
        self.secret_name = secret_name
        self.name = name
        self._where = where
        self._key: bytes | None = None

    def _master(self) -> bytes:
        if self._key is None:
            text = self._lookup(self.secret_name)
            if not text:
                raise KeyMaterialError(f"master key {self.secret_name} not found in {self._where}")
            self._key = parse_key_text(text, f"master key {self.secret_name} ({self._where})")
        return self._key


def env_provider(env: Mapping[str, str] | None = None) -> LookupProvider:
    source = os.environ if env is None else env
    return LookupProvider(lambda name: source.get(name), MASTER_KEY_ENV, name="env", where="the environment")
