"""Settings: environment variables with embedded defaults.

Out of the box everything lives under ``./var`` (``GOVERNANCE_HOME``): one SQLite
case store, a SQLite ledger, a folder of objects and generated keys. Every part
can be pointed elsewhere with an environment variable, or, inside Airflow, by
the connections that ``plugins/governance_airflow/hooks.py`` turns into the same
:class:`Settings`.

Environment variables:

``GOVERNANCE_HOME``                 root of local state (default ``./var``)
``GOVERNANCE_STORES``               comma-separated store names (default ``default``)
``GOVERNANCE_STORE_<NAME>_URL``     SQLAlchemy URL (default SQLite ``<home>/stores/<name>.db``)
``GOVERNANCE_STORE_<NAME>_MAPPING`` built-in mapping name or path to a TOML file (default ``reference``)
``GOVERNANCE_LEDGER_URL``           SQLAlchemy URL (default SQLite ``<home>/ledger.db``)
``GOVERNANCE_OBJECTS_URL``          ``file:///abs/folder`` or ``s3://bucket/prefix`` (default ``<home>/objects``)
``GOVERNANCE_S3_ENDPOINT_URL``      S3-compatible endpoint (MinIO, moto); unset means AWS
``GOVERNANCE_KEYS_DIR``             key files, created 0700/0600 (default ``<home>/keys``)
``GOVERNANCE_STATE_URL``            platform state tables: holds, quarantine, requests, studies,
                                    findings, batches, wrapped data keys (default: the ledger's database)
``GOVERNANCE_KEY_PROVIDER``         who holds the master key that wraps data keys (docs/deploy.md):
                                    unset = the embedded default (a key file made on first use);
                                    ``local`` (a mounted folder), ``env`` (``GOVERNANCE_MASTER_KEY``),
                                    ``airflow`` (a connection, in Airflow tasks), ``aws-kms``
``GOVERNANCE_KMS_KEY_ID``           the KMS key (id, ARN or alias) for ``aws-kms``
``GOVERNANCE_KMS_ENDPOINT_URL``     KMS-compatible endpoint; unset means AWS

Once a key provider is configured the installation is a deployment, not the
embedded default: ``GOVERNANCE_HOME`` must then be set (nothing is written under
whatever folder a worker happens to start in) and no key is created implicitly.

Everything the platform writes under its home is private to the user running it:
folders 0700, files 0600 (:data:`PRIVATE_UMASK` at every entry point, and an
explicit mode where a file is created). :func:`prepare_home` refuses a home that
cannot hold the platform's files (a file, a kernel pseudo-filesystem, a
read-only folder) in one line, and warns when an existing home is readable by
the group or by everyone.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from governance.errors import ConfigError

__all__ = ["StoreConfig", "Settings", "sqlite_url", "PRIVATE_UMASK", "private_umask", "private_folder", "prepare_home",
           "home_warning"]

# New files 0600 and folders 0700: case data, ledgers, keys and bundles are for the platform's user only.
PRIVATE_UMASK = 0o077
# Kernel pseudo-filesystems: nothing can be kept there, and the errors they give are misleading.
_PSEUDO_FILESYSTEMS = (Path("/proc"), Path("/sys"), Path("/dev"))

_STORE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def sqlite_url(path: Path) -> str:
    """SQLAlchemy URL for a SQLite file at an absolute path."""
    return f"sqlite:///{path.resolve()}"


@dataclass(frozen=True)
class StoreConfig:
    """One case store: where its database is and which mapping describes it."""

    name: str
    url: str
    mapping: str = "reference"

    def __post_init__(self) -> None:
        if not _STORE_NAME.match(self.name):
            raise ConfigError(
                f"store name {self.name!r} is not valid: use lower-case letters, digits and _, starting with a letter"
            )


@dataclass(frozen=True)
class Settings:
    """Where the platform's parts live. Build with :meth:`from_env` or directly."""

    home: Path
    stores: tuple[StoreConfig, ...]
    ledger_url: str
    objects_url: str
    keys_dir: Path
    s3_endpoint_url: str | None = None
    state_url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    key_provider: str | None = None  # None: the embedded default (governance.keyprovider)
    kms_key_id: str | None = None
    kms_endpoint_url: str | None = None
    # For key_provider="airflow": reads a secret by name (plugins/ passes it; governance/ never imports airflow).
    key_lookup: Callable[[str], str | None] | None = field(default=None, compare=False, repr=False)
    # A database was named in the environment (ledger, state or a store URL): then a retention run never
    # creates the ledger or state database (governance.retention.context); ``keys init`` does, on purpose.
    databases_named: bool = False

    @property
    def embedded(self) -> bool:
        """The single-machine default: keys may be created on first use."""
        return self.key_provider is None

    @property
    def state_database_url(self) -> str:
        """Where the platform's own state tables live: beside the ledger unless set."""
        return self.state_url or self.ledger_url

    def __post_init__(self) -> None:
        names = [s.name for s in self.stores]
        if not names:
            raise ConfigError("no case store configured (GOVERNANCE_STORES is empty)")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"store configured twice: {', '.join(duplicates)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> "Settings":
        env = os.environ if env is None else env
        base = Path(cwd) if cwd is not None else Path.cwd()
        provider = (env.get("GOVERNANCE_KEY_PROVIDER") or "").strip().lower() or None
        if provider is not None and not env.get("GOVERNANCE_HOME"):
            raise ConfigError(f"GOVERNANCE_HOME is not set: with GOVERNANCE_KEY_PROVIDER={provider} the platform "
                              "will not write under the current folder")
        home = (base / env.get("GOVERNANCE_HOME", "var")).resolve()
        names = [n.strip() for n in env.get("GOVERNANCE_STORES", "default").split(",") if n.strip()]
        stores = tuple(
            StoreConfig(
                name=name,
                url=env.get(f"GOVERNANCE_STORE_{name.upper()}_URL", sqlite_url(home / "stores" / f"{name}.db")),
                mapping=env.get(f"GOVERNANCE_STORE_{name.upper()}_MAPPING", "reference"),
            )
            for name in names
        )
        return cls(
            home=home,
            stores=stores,
            ledger_url=env.get("GOVERNANCE_LEDGER_URL", sqlite_url(home / "ledger.db")),
            objects_url=env.get("GOVERNANCE_OBJECTS_URL", (home / "objects").as_uri()),
            keys_dir=Path(env.get("GOVERNANCE_KEYS_DIR", str(home / "keys"))).resolve(),
            s3_endpoint_url=env.get("GOVERNANCE_S3_ENDPOINT_URL") or None,
            state_url=env.get("GOVERNANCE_STATE_URL") or None,
            key_provider=provider,
            kms_key_id=env.get("GOVERNANCE_KMS_KEY_ID") or None,
            kms_endpoint_url=env.get("GOVERNANCE_KMS_ENDPOINT_URL") or None,
            databases_named=any(value.strip() and (key in ("GOVERNANCE_LEDGER_URL", "GOVERNANCE_STATE_URL") or (
                key.startswith("GOVERNANCE_STORE_") and key.endswith("_URL"))) for key, value in env.items()),
        )

    def store(self, name: str = "default") -> StoreConfig:
        for store in self.stores:
            if store.name == name:
                return store
        known = ", ".join(s.name for s in self.stores)
        raise ConfigError(f"no case store named {name!r} is configured (configured: {known})")


@contextlib.contextmanager
def private_umask():
    """Create files 0600 and folders 0700 inside the block (the process umask, restored after)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def private_folder(path: Path) -> None:
    """Create ``path`` and every missing folder above it 0700 (``mkdir(parents=True)`` would make those 0755)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # a concurrent process made it first
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


def _under_home(settings: Settings) -> bool:
    """Whether any part of the platform keeps files under its home with these settings."""
    from sqlalchemy.engine import make_url

    home = settings.home
    paths = [settings.keys_dir]
    if settings.objects_url.startswith("file:"):
        from urllib.parse import unquote, urlparse

        paths.append(Path(unquote(urlparse(settings.objects_url).path)))
    for url in (settings.ledger_url, settings.state_database_url, *(s.url for s in settings.stores)):
        try:
            parsed = make_url(url)
        except Exception:  # noqa: BLE001 - a malformed URL is reported when its engine is made
            continue
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            paths.append(Path(parsed.database))
    return any(p == home or home in p.parents for p in paths)


def prepare_home(settings: Settings, *, read_only: bool = False) -> str | None:
    """Check (and create, 0700) the home the platform writes into; return a one-line warning or ``None``.

    ``read_only`` is for commands that only read (an auditor verifying a
    read-only copy of the ledger): the home must exist and is never created or
    required to be writable.

    Raises :class:`ConfigError` naming the home when it is a file, lies on a kernel
    pseudo-filesystem, or exists but cannot be written; a home no part of the
    settings uses (everything on PostgreSQL and S3) is left alone.
    """
    home = settings.home
    if not _under_home(settings):
        return None
    if any(home == p or p in home.parents for p in _PSEUDO_FILESYSTEMS):
        raise ConfigError(f"GOVERNANCE_HOME {home} is on a kernel pseudo-filesystem: choose a folder on disk")
    if home.exists() and not home.is_dir():
        raise ConfigError(f"GOVERNANCE_HOME {home} is a file, not a folder")
    if read_only:
        return home_warning(home) if home.exists() else None
    if not home.exists():
        try:
            private_folder(home)
        except OSError as exc:
            raise ConfigError(f"GOVERNANCE_HOME {home} cannot be created ({exc.strerror or type(exc).__name__})") from None
        return None
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(f"GOVERNANCE_HOME {home} is not writable by this user (read-only folder or file system)")
    return home_warning(home)


def home_warning(home: Path) -> str | None:
    """One line if ``home`` can be read by the group or by every local user, else ``None``."""
    try:
        mode = stat.S_IMODE(home.stat().st_mode)
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"warning: GOVERNANCE_HOME {home} is readable by other local users (mode {mode:04o}); "
                f"run: chmod 700 {home}")
    return None
