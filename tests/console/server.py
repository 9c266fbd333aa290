"""A real Airflow API server on 127.0.0.1 and a free port, with SimpleAuthManager users for each role.

Started once per session by the browser tests: the console is reached exactly
as a user reaches it (Airflow's login, the ``_token`` cookie, the plugin
mounted by the API server), on the scenario's store through the same Airflow
connections ``scripts/airflow_env.py`` presets for ``dev.py airflow``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
USERS = {"ig": ("ig.lead", "admin"), "records_management": ("records.manager", "user"), "auditor": ("auditor.one", "viewer")}


@dataclass
class Server:
    url: str
    passwords: dict[str, str]
    log: Path
    process: subprocess.Popen

    def login(self, role: str) -> tuple[str, str]:
        name = USERS[role][0]
        return name, self.passwords[name]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(governance_home: Path, work: Path, metadata_url: str) -> tuple[subprocess.Popen, str, Path, Path]:
    """Start the API server (not waiting for it): (process, url, log, passwords file).

    ``metadata_url``: Airflow's metadata database, already created (the test
    session's own, see conftest.py), so the server starts without a migration.
    """
    sys.path.insert(0, str(REPO / "scripts"))
    from airflow_env import airflow_env

    env = airflow_env(REPO, governance_home)
    airflow_home = work / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    passwords_file = airflow_home / "passwords.json"
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in USERS.values()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "no-dags"),  # the console needs no DAG parsing
    })
    for name in [k for k in env if k.startswith("GOVERNANCE_TEST_") or k == "PYTEST_CURRENT_TEST"]:
        env.pop(name)
    (work / "no-dags").mkdir(exist_ok=True)
    bin_dir = Path(sys.executable).parent
    log = work / "api-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(bin_dir / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", "1"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=work)
    return process, f"http://127.0.0.1:{port}", log, passwords_file


def wait(process: subprocess.Popen, url: str, log: Path, passwords_file: Path, *, timeout: float = 150.0) -> Server:
    """Wait until the server answers its health check; stop it and raise with its log's tail if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server = Server(url, {}, log, process)
                server.stop()
                raise RuntimeError(f"airflow api-server did not start; see {log}:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
    passwords = json.loads(passwords_file.read_text())
    return Server(url, passwords, log, process)
