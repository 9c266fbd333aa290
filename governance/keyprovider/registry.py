"""Pick the key provider from settings (``GOVERNANCE_KEY_PROVIDER``); others may register."""

from __future__ import annotations

from typing import Callable

from governance.config import Settings
from governance.errors import ConfigError
from governance.keyprovider.aws_kms import AwsKmsProvider
from governance.keyprovider.base import KeyProvider
from governance.keyprovider.local import LocalFolderProvider
from governance.keyprovider.lookup import LookupProvider, env_provider

__all__ = ["open_provider", "register_provider", "AIRFLOW_MASTER_KEY_CONN"]

AIRFLOW_MASTER_KEY_CONN = "governance_master_key"


def _airflow(settings: Settings) -> KeyProvider:
    if settings.key_lookup is None:
        raise ConfigError("GOVERNANCE_KEY_PROVIDER=airflow works inside Airflow tasks only; "
                          "on the command line use env (GOVERNANCE_MASTER_KEY) or aws-kms")
    return LookupProvider(settings.key_lookup, AIRFLOW_MASTER_KEY_CONN, name="airflow",
                          where="Airflow's connections (its secrets backend)")


_REGISTRY: dict[str, Callable[[Settings], KeyProvider]] = {
    "local": lambda s: LocalFolderProvider(s.keys_dir, create=False),
    "env": lambda s: env_provider(),
    "airflow": _airflow,
    "aws-kms": lambda s: AwsKmsProvider(s.kms_key_id or "", endpoint_url=s.kms_endpoint_url),
}


def register_provider(name: str, factory: Callable[[Settings], KeyProvider]) -> None:
    """Add a provider (e.g. a cloud KMS other than AWS's) under ``name``."""
    _REGISTRY[name] = factory


def open_provider(settings: Settings) -> KeyProvider:
    """The configured provider; with none configured, the embedded default (key file made on first use)."""
    if settings.key_provider is None:
        return LocalFolderProvider(settings.keys_dir, create=True)
    try:
        factory = _REGISTRY[settings.key_provider]
    except KeyError:
        raise ConfigError(f"GOVERNANCE_KEY_PROVIDER={settings.key_provider!r} is not a key provider "
                          f"(known: {', '.join(sorted(_REGISTRY))})") from None
    return factory(settings)
