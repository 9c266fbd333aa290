"""The environment for running Airflow on the platform's embedded default.

:func:`airflow_env` returns the variables that point Airflow at this
repository's ``dags/`` and ``plugins/``, keep its state in ``<home>/airflow``,
and preset the three connections the :class:`GovernanceHook` reads so they
name exactly what the embedded default uses (SQLite files and a folder under
``<home>``). Explicit connections, rather than relying on the hook's fallback,
so that what Airflow runs against is visible in one place and can be swapped
for PostgreSQL or S3 by changing one variable.

Connections are written in Airflow's JSON form with the path in ``host``: the
URI form would need every path percent-encoded (spaces, ``%``, ``#``, ``?``)
and is easy to get wrong by hand; the JSON form takes a path as it is.

:func:`private_airflow_home` makes what the scripts start private: umask 077 for
this process and the Airflow processes it starts (so Airflow's metadata
database, logs and generated admin password file are 0600), and the homes 0700.

Run as a script to print ``export`` lines for a shell::

    eval "$(.venv/bin/python scripts/airflow_env.py)"
    airflow dags list
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["airflow_env", "private_airflow_home", "main"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def _venv_bin(repo_root: Path) -> Path:
    """The virtualenv whose ``airflow`` standalone must launch: the repo's, else ours."""
    candidate = repo_root / ".venv" / "bin"
    return candidate if (candidate / "airflow").exists() else Path(sys.prefix) / "bin"


def _connection(conn_type: str, host: str, **extra: str) -> str:
    conn: dict[str, object] = {"conn_type": conn_type, "host": host}
    if extra:
        conn["extra"] = extra
    return json.dumps(conn, sort_keys=True)


def airflow_env(
    repo_root: Path = REPO_ROOT, home: Path | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment variables (added to ``base``, default ``os.environ``) for Airflow here.

    ``home`` is the platform's GOVERNANCE_HOME (default ``<repo>/var``); Airflow's
    own state goes in ``<home>/airflow``. Only ``default`` is preset as a store;
    more stores are added with ``AIRFLOW_VAR_GOVERNANCE_STORES`` and one
    ``AIRFLOW_CONN_CASE_STORE_<NAME>`` each.
    """
    repo_root = Path(repo_root).resolve()
    home = (Path(home) if home is not None else repo_root / "var").resolve()
    env = dict(os.environ if base is None else base)
    venv_bin = _venv_bin(repo_root)
    python_path = [str(repo_root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(repo_root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo_root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # New DAG files show up within half a minute instead of five.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "GOVERNANCE_HOME": str(home),
            "AIRFLOW_CONN_GOVERNANCE_LEDGER": _connection("sqlite", str(home / "ledger.db")),
            "AIRFLOW_CONN_GOVERNANCE_OBJECTS": _connection("file", str(home / "objects")),
            "AIRFLOW_CONN_CASE_STORE_DEFAULT": _connection(
                "sqlite", str(home / "stores" / "default.db"), mapping="reference"
            ),
            # governance/ is imported by tasks; the project need not be pip-installed.
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
            # `airflow standalone` starts its components as `airflow ...` from PATH.
            "PATH": os.pathsep.join([str(venv_bin), env.get("PATH", os.defpath)]),
        }
    )
    return env


# Files Airflow writes under its home that hold secrets or metadata: tightened if an older run left them open.
_AIRFLOW_PRIVATE_FILES = ("airflow.db", "airflow.db-wal", "airflow.db-shm", "airflow.db-journal",
                          "simple_auth_manager_passwords.json.generated", "airflow.cfg")


def private_airflow_home(env: Mapping[str, str]) -> list[str]:
    """Umask 077 for this process (inherited by Airflow); homes 0700; Airflow's own files 0600.

    Returns one warning line per home that other local users could read before.
    """
    import stat

    os.umask(0o077)
    warnings = []
    for home in (Path(env["GOVERNANCE_HOME"]), Path(env["AIRFLOW_HOME"])):
        if home.is_dir():
            mode = stat.S_IMODE(home.stat().st_mode)
            if mode & 0o077:
                warnings.append(f"warning: {home} was readable by other local users (mode {mode:04o}); now 0700")
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)
    for name in _AIRFLOW_PRIVATE_FILES:
        path = Path(env["AIRFLOW_HOME"]) / name
        if path.is_file():
            os.chmod(path, 0o600)
    return warnings


def _changed(env: Mapping[str, str], base: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if base.get(k) != v}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print export lines for running Airflow on the embedded default.")
    parser.add_argument("--home", type=Path, default=None, help="GOVERNANCE_HOME (default <repo>/var)")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    base = dict(os.environ)
    for name, value in sorted(_changed(airflow_env(args.repo, args.home, base=base), base).items()):
        print(f"export {name}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
