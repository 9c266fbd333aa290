"""One key provider shared by every process, and the data keys it wraps.

- :mod:`.base`: the provider interface (wrap / unwrap under one master key);
- backends: :mod:`.local` (a key file: the embedded default, or a mounted folder),
  :mod:`.lookup` (a secrets store reached by a callable: Airflow's connections and
  secrets backends, or the environment), :mod:`.aws_kms` (AWS KMS);
- :mod:`.registry`: the provider named by ``GOVERNANCE_KEY_PROVIDER``;
- :mod:`.shared`: named data keys, wrapped and kept in the state database.

See docs/deploy.md for which to use where.
"""

from __future__ import annotations

from governance.config import Settings
from governance.keyprovider.base import KeyProvider
from governance.keyprovider.registry import open_provider, register_provider
from governance.keyprovider.shared import SharedKeys, data_key_id

__all__ = ["KeyProvider", "SharedKeys", "open_provider", "register_provider", "open_keys", "data_key_id",
           "SHARED_KEY_NAMES", "init_keys"]

# Keys every host must share, made once by `governance keys init` (or on first use in the embedded default).
SHARED_KEY_NAMES = ("retention-tombstones", "research-master")


def open_keys(settings: Settings) -> SharedKeys:
    """The deployment's data keys: state database + configured provider."""
    from governance.state import state_engine

    return SharedKeys(state_engine(settings), open_provider(settings), implicit=settings.embedded)


def init_keys(settings: Settings) -> dict[str, object]:
    """Make the shared keys once (idempotent); the provider's master key must already exist, except locally."""
    from governance.keyprovider.local import LocalFolderProvider

    provider = open_provider(settings)
    if isinstance(provider, LocalFolderProvider):
        LocalFolderProvider(settings.keys_dir, create=True).master_key_id  # noqa: B018 - makes the file if missing
    keys = open_keys(settings)
    made = [name for name in SHARED_KEY_NAMES if not keys.has(name)]
    for name in SHARED_KEY_NAMES:
        legacy = getattr(keys.provider, "legacy_key", lambda _n: None)(name)
        if legacy is not None and not keys.has(name):
            keys._insert(name, legacy)  # an older version's key file: keep its tombstones and studies readable
        keys.create(name)
    return {"provider": keys.provider.name, "master_key_id": keys.provider.master_key_id, "created": made,
            "keys": list(SHARED_KEY_NAMES)}
