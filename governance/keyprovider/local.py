"""The embedded default: the master key is a 0600 file in the keys folder.

``create=True`` (no provider configured: one machine, ``./var``) makes the file
on first use, as the platform always has. ``create=False`` (``GOVERNANCE_KEY_PROVIDER=local``:
a folder every host mounts, e.g. a Kubernetes secret volume) never makes one: a
missing file is an error, because a key minted on one worker is a key the others lack.
"""

from __future__ import annotations

from pathlib import Path

from governance.errors import KeyMaterialError
from governance.keyprovider.base import AesGcmProvider
from governance.keys import KeyStore

__all__ = ["LocalFolderProvider", "MASTER_KEY_NAME"]

MASTER_KEY_NAME = "master"


class LocalFolderProvider(AesGcmProvider):
    name = "local"

    def __init__(self, keys_dir: Path, *, create: bool) -> None:
        self.keys_dir = Path(keys_dir)
        self.create = create
        self._keys = KeyStore(self.keys_dir)

    def _master(self) -> bytes:
        path = self.keys_dir / f"{MASTER_KEY_NAME}.key"
        if not self.create and not path.is_file():
            raise KeyMaterialError(
                f"master key file {path} is missing (GOVERNANCE_KEY_PROVIDER=local never creates one: "
                "run `governance keys init` once, or mount the folder that holds it)"
            )
        return self._keys.data_key(MASTER_KEY_NAME)

    def legacy_key(self, name: str) -> bytes | None:
        """A data key an older version kept as ``<name>.key`` in the folder (imported once), else None."""
        path = self.keys_dir / f"{name}.key"
        return self._keys.data_key(name) if path.is_file() else None

    def forget_legacy_key(self, name: str) -> bool:
        """Remove an older version's key file for ``name`` (crypto-shredding reaches it too)."""
        if not (self.keys_dir / f"{name}.key").is_file():
            return False  # also covers names an older version could not have used
        return self._keys.destroy_data_key(name)
