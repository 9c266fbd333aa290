"""A production-shaped Airflow on this machine, for tests/deploy: started, reached, stopped.

PostgreSQL (a fresh metadata database and a fresh platform database per run),
Redis (a database index other than 0 and a queue of the run's own), an S3 server
(moto, on loopback, started by the test), and Airflow 3 as separate processes:
api-server, scheduler, dag-processor, triggerer and two Celery workers, each
worker with its own HOME, working folder, AIRFLOW_HOME and GOVERNANCE_HOME, as
on two machines. What they share is what a deployment shares: the databases,
the broker, the bucket, and secrets handed to each process (the master key as an
Airflow connection, the ledger's signing key in a mounted secrets folder).

Every process is started in its own session and stopped by its own pid.
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
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
REDIS_DB = int(os.environ.get("GOVERNANCE_TEST_REDIS_DB", "13"))
REVIEWER, RECORDS_MANAGER = "ig.reviewer", "records.manager"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conn(**fields: Any) -> str:
    return json.dumps(fields, sort_keys=True)


@dataclass
class Cluster:
    root: Path
    metadata_url: str  # postgresql+psycopg://... (fresh database)
    platform_url: str  # postgresql+psycopg://... (fresh database: store, ledger, state)
    s3_endpoint: str
    bucket: str
    run_tag: str = field(default_factory=lambda: secrets.token_hex(4))
    port: int = field(default_factory=free_port)
    master_key: str = field(default_factory=lambda: secrets.token_hex(32))
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def queue(self) -> str:
        return f"governance-deploy-{self.run_tag}"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"  # a mounted secret volume: the ledger's signing key

    @property
    def passwords_file(self) -> Path:
        return self.root / "shared" / "passwords.json"

    def governance_env(self, home: Path) -> dict[str, str]:
        """What a governance process (worker or admin CLI) needs; nothing points at the current folder."""
        return {
            "GOVERNANCE_HOME": str(home),
            "GOVERNANCE_KEYS_DIR": str(self.secrets_dir),
            "GOVERNANCE_STATE_URL": self.platform_url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-2",
        }

    def admin_env(self) -> dict[str, str]:
        """The records manager's machine: the CLI, with the master key in its environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVERNANCE_"))}
        env.update(self.governance_env(self.root / "admin" / "governance"))
        env.update({"GOVERNANCE_KEY_PROVIDER": "env", "GOVERNANCE_MASTER_KEY": self.master_key,
                    "GOVERNANCE_LEDGER_URL": self.platform_url, "GOVERNANCE_STORE_DEFAULT_URL": self.platform_url,
                    "GOVERNANCE_OBJECTS_URL": f"s3://{self.bucket}/governance",
                    "GOVERNANCE_S3_ENDPOINT_URL": self.s3_endpoint, "HOME": str(self.root / "admin")})
        return env

    def airflow_env(self, name: str) -> dict[str, str]:
        home = self.root / name
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOVERNANCE_"))}
        broker = f"redis://127.0.0.1:6379/{REDIS_DB}"
        env.update({
            "HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins"), str(Path(__file__).parent)]),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Only the runs the test triggers: no scheduled run racing them (catchup is off, but the
            # latest interval would still be scheduled the moment a DAG appears).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "deploy_hostname.worker_name",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{REVIEWER}:admin,{RECORDS_MANAGER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            # psycopg 3 is async-capable: no asyncpg needed (docs/deploy.md).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.metadata_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "120",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # The platform, configured as a deployment: connections, a key provider, no fallback.
            "GOVERNANCE_KEY_PROVIDER": "airflow",
            "AIRFLOW_CONN_GOVERNANCE_MASTER_KEY": _conn(conn_type="generic", password=self.master_key),
            "AIRFLOW_CONN_GOVERNANCE_LEDGER": _conn(conn_type="generic", extra={"url": self.platform_url}),
            "AIRFLOW_CONN_CASE_STORE_DEFAULT": _conn(conn_type="generic", extra={"url": self.platform_url,
                                                                                 "mapping": "reference"}),
            "AIRFLOW_CONN_GOVERNANCE_OBJECTS": _conn(conn_type="s3", host=self.bucket, schema="governance",
                                                     extra={"endpoint_url": self.s3_endpoint}),
            "GOVERNANCE_TEST_WORKER_NAME": name,
        })
        env.update(self.governance_env(home / "governance"))
        return env

    _jwt_secret: str = field(default_factory=lambda: secrets.token_hex(16))

    # -- processes -----------------------------------------------------------------------

    def run(self, name: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        env = self.airflow_env(name)
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return subprocess.run([str(BIN / "airflow"), *args], env=env, cwd=self.root / name, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, name: str, *args: str) -> None:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "process.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen([str(BIN / "airflow"), *args], env=self.airflow_env(name), cwd=folder,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    started_in: float = 0.0

    def up(self) -> None:
        began = time.monotonic()
        self.passwords_file.parent.mkdir(parents=True, exist_ok=True)
        migrated = self.run("admin-airflow", "db", "migrate", timeout=300)
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {migrated.stderr[-2000:]}")
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")
        for worker in ("worker-a", "worker-b"):
            self.start(worker, "celery", "worker", "--queues", self.queue, "--celery-hostname", f"{worker}@%h",
                       "--concurrency", "2", "--skip-serve-logs")
        self.wait_for(lambda: self._healthy(), 120, "the API server")
        self.started_in = time.monotonic() - began

    def _healthy(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.tail(name)}")
        try:
            with urllib.request.urlopen(f"{self.api}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200 and self.passwords_file.exists()
        except (urllib.error.URLError, OSError):
            return False

    def tail(self, name: str, chars: int = 3000) -> str:
        log = self.root / name / "process.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"

    def down(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)

    @staticmethod
    def wait_for(check, seconds: float, what: str, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"{what} not ready within {seconds:.0f}s")

    # -- REST API as a named user --------------------------------------------------------

    def token(self, user: str) -> str:
        passwords = json.loads(self.passwords_file.read_text())
        body = json.dumps({"username": user, "password": passwords[user]}).encode()
        request = urllib.request.Request(f"{self.api}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]

    def call(self, user: str, method: str, path: str, body: Any = None) -> Any:
        token = self._tokens.get(user) or self._tokens.setdefault(user, self.token(user))
        request = urllib.request.Request(f"{self.api}/api/v2{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None

    _tokens: dict[str, str] = field(default_factory=dict)
