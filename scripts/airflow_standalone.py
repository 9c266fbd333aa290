"""Run ``airflow standalone`` on the embedded default: UI, scheduler, DAG processor, triggerer.

For a laptop or a demo, not production (see infra/ for that). Uses the
environment from :mod:`airflow_env` and Airflow's SimpleAuthManager: the
``admin`` user's generated password is written to
``<home>/airflow/simple_auth_manager_passwords.json.generated``. Airflow runs
under umask 077, so that file, the metadata database and the logs are 0600 and
the homes 0700 (:func:`airflow_env.private_airflow_home`).

    .venv/bin/python scripts/airflow_standalone.py            # state in ./var
    .venv/bin/python scripts/airflow_standalone.py --home /tmp/gov

Ctrl-C (or SIGTERM) stops Airflow and every process it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_env import REPO_ROOT, airflow_env, private_airflow_home  # noqa: E402

__all__ = ["main", "passwords_file"]


def passwords_file(env: dict[str, str]) -> Path:
    """Where SimpleAuthManager writes the generated admin password."""
    configured = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if configured:
        return Path(configured)
    return Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run `airflow standalone` for this repository.")
    parser.add_argument("--home", type=Path, default=None, help="GOVERNANCE_HOME (default <repo>/var)")
    parser.add_argument("--port", type=int, default=8080, help="API server / UI port (default 8080)")
    args = parser.parse_args(argv)

    env = airflow_env(REPO_ROOT, args.home)
    env["AIRFLOW__API__PORT"] = str(args.port)
    env["AIRFLOW__API__HOST"] = "127.0.0.1"  # loopback only, as the README says: not 0.0.0.0
    # Workers reach the API server here; Airflow's default assumes port 8080
    # whatever port the API server was given.
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{args.port}/execution/"
    for warning in private_airflow_home(env):
        print(warning, file=sys.stderr)
    airflow = Path(env["PATH"].split(os.pathsep)[0]) / "airflow"

    print(f"Airflow UI:        http://127.0.0.1:{args.port}/  (user admin)")
    print(f"Admin password:    {passwords_file(env)}  (written once Airflow has started)")
    print(f"Health:            http://127.0.0.1:{args.port}/api/v2/monitor/health")
    print(f"AIRFLOW_HOME:      {env['AIRFLOW_HOME']}")
    print(f"GOVERNANCE_HOME:   {env['GOVERNANCE_HOME']}")
    print("Stop with Ctrl-C.", flush=True)

    # Own process group, so stopping reaches the scheduler, API server and workers too.
    process = subprocess.Popen([str(airflow), "standalone"], env=env, start_new_session=True)

    def stop(_signum: int, _frame: object) -> None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        stop(signal.SIGINT, None)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
