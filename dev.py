#!/usr/bin/env python3
"""Project tasks that need nothing but Python >= 3.11.

    python3 dev.py demo      # install into ./.venv, then run the platform's main job
    python3 dev.py test      # install into ./.venv, then run the test suite
    python3 dev.py airflow   # install, then start the Airflow UI on the embedded defaults
    python3 dev.py bench     # install, then run the benchmarks in bench/
    python3 dev.py lock      # re-resolve constraints.txt from pyproject.toml

The first run creates ./.venv and installs the exact versions in
constraints.txt (with uv, itself installed from PyPI at a pinned version, because
it resolves Airflow's ~600 packages several times faster than pip). Later runs
reinstall only when pyproject.toml or constraints.txt changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".install-stamp"
UV_VERSION = "0.13.9"


def _say(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def _run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run([str(c) for c in command], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(result.returncode)


def _wanted_stamp() -> str:
    digest = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    digest.update(UV_VERSION.encode())
    return digest.hexdigest()


def ensure_installed() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"[dev] Python >= 3.11 is needed; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        _say(f"creating virtualenv {VENV.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _wanted_stamp()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    _say("installing pinned dependencies (first run takes about a minute)")
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"uv=={UV_VERSION}")
    _run(BIN / "uv", "pip", "install", "--quiet", "--python", PYTHON,
         "-c", ROOT / "constraints.txt", "-e", f"{ROOT}[dev]")
    STAMP.write_text(wanted)


def venv_env() -> dict[str, str]:
    env = dict(os.environ)
    # Airflow's standalone starts its parts by calling `airflow` from PATH.
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    return env


def main(argv: list[str]) -> None:
    tasks = {
        "demo": [PYTHON, ROOT / "scripts" / "main_job.py"],
        "test": [PYTHON, "-m", "pytest"],
        "airflow": [PYTHON, ROOT / "scripts" / "airflow_standalone.py"],
        "bench": [PYTHON, ROOT / "bench" / "run_all.py"],
    }
    if not argv or argv[0] in {"-h", "--help", "help"} or (argv[0] not in tasks and argv[0] != "lock"):
        print(__doc__)
        sys.exit(0 if argv and argv[0] in {"-h", "--help", "help"} else 2)
    task, rest = argv[0], argv[1:]
    ensure_installed()
    if task == "lock":
        _run(BIN / "uv", "pip", "compile", "pyproject.toml", "--extra", "dev", "--python-version", "3.11",
             "-o", "constraints.txt", "--no-header", "--quiet")
        return
    _run(*tasks[task], *rest, env=venv_env())


if __name__ == "__main__":
    main(sys.argv[1:])
