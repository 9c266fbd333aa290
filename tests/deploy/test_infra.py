"""infra/: the compose file and Helm values parse, and name the environment every part needs.

Docker and Kubernetes do not run here, so this checks what can go wrong on
paper: YAML, the services and processes asked for, every variable the platform
and Airflow read (spelled as the code spells them), secrets only by reference,
and docs/deploy.md naming each variable. Fast: runs everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"

AIRFLOW_SERVICES = {"airflow-api-server": "api-server", "airflow-scheduler": "scheduler",
                    "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer"}
# What every Airflow process of a deployment needs (docs/deploy.md).
REQUIRED_ENV = {
    "AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
    "GOVERNANCE_HOME", "GOVERNANCE_KEY_PROVIDER", "GOVERNANCE_KEYS_DIR",
    "AIRFLOW_CONN_GOVERNANCE_MASTER_KEY", "AIRFLOW_CONN_GOVERNANCE_LEDGER", "AIRFLOW_CONN_GOVERNANCE_STATE",
    "AIRFLOW_CONN_GOVERNANCE_OBJECTS", "AIRFLOW_CONN_CASE_STORE_DEFAULT",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((INFRA / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def helm() -> dict:
    return yaml.safe_load((INFRA / "helm" / "values.yaml").read_text())


def _airflow_services(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items() if name.startswith("airflow-") and name != "airflow-init"}


def test_compose_runs_every_airflow_process_and_two_celery_workers(compose: dict) -> None:
    services = compose["services"]
    for name, command in AIRFLOW_SERVICES.items():
        assert f"airflow {command}" in services[name]["command"], name
    workers = [n for n, s in services.items() if "celery worker" in str(s.get("command"))]
    assert len(workers) >= 2
    homes = {next(v for v in services[w]["volumes"] if v.endswith(":/opt/governance-home")) for w in workers}
    assert len(homes) == len(workers), "each worker needs its own home: nothing may be shared through a worker's disk"
    assert {"postgres", "redis", "minio", "minio-init"} <= set(services)


def test_minio_bucket_has_object_lock_and_versioning(compose: dict) -> None:
    init = compose["services"]["minio-init"]["entrypoint"]
    assert "--with-lock" in init and "version enable" in init


def test_every_airflow_service_has_the_deployment_environment(compose: dict) -> None:
    for name, service in _airflow_services(compose).items():
        env = service["environment"]
        assert REQUIRED_ENV <= set(env), f"{name} lacks {sorted(REQUIRED_ENV - set(env))}"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
        assert env["GOVERNANCE_KEY_PROVIDER"] == "airflow"


def test_json_connections_parse_and_name_what_the_hook_reads(compose: dict) -> None:
    env = compose["x-airflow-common"]["environment"]
    master = json.loads(re.sub(r"\$\{[^}]+\}", "0" * 64, env["AIRFLOW_CONN_GOVERNANCE_MASTER_KEY"]))
    assert master["password"] == "0" * 64
    objects = json.loads(env["AIRFLOW_CONN_GOVERNANCE_OBJECTS"])
    assert objects["conn_type"] == "s3" and objects["extra"]["endpoint_url"].startswith("http://minio")


def test_secrets_are_references_never_values(compose: dict) -> None:
    text = (INFRA / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    example = set(re.findall(r"^([A-Z_]+)=", (INFRA / "env.example").read_text(), re.M))
    assert used <= example, f"variables without an entry in env.example: {sorted(used - example)}"
    assert not re.search(r"^[A-Z_]*(KEY|PASSWORD|SECRET)=\S", (INFRA / "env.example").read_text(), re.M)


def test_platform_variables_are_spelled_as_the_code_reads_them(compose: dict, helm: dict) -> None:
    import governance.config as config
    from governance.keyprovider.lookup import MASTER_KEY_ENV

    known = set(re.findall(r"GOVERNANCE_[A-Z_]+", config.__doc__ or "")) | {MASTER_KEY_ENV}
    text = (INFRA / "docker-compose.yml").read_text() + (INFRA / "helm" / "values.yaml").read_text()
    used = {v for v in re.findall(r"\bGOVERNANCE_[A-Z_]+", text) if not v.endswith("_")}
    assert used <= known, f"unknown platform variables: {sorted(used - known)}"
    hooks = (REPO / "plugins" / "governance_airflow" / "hooks.py").read_text()
    conn_ids = set(re.findall(r'_CONN_ID = "([a-z_]+)"', hooks)) | {"case_store_default"}
    for name in re.findall(r"AIRFLOW_CONN_([A-Z_]+)", text):
        assert name.lower() in conn_ids, name


def test_helm_values_for_the_official_chart(helm: dict) -> None:
    assert helm["executor"] == "CeleryExecutor" and helm["workers"]["replicas"] >= 2
    assert helm["triggerer"]["enabled"] and helm["dagProcessor"]["enabled"]
    names = {e["name"] for e in helm["env"]} | {s["envName"] for s in helm["secret"]}
    # The chart sets these itself from its *SecretName values:
    chart_made = {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                  "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                  "AIRFLOW__CELERY__RESULT_BACKEND"}
    assert REQUIRED_ENV - chart_made <= names, sorted(REQUIRED_ENV - chart_made - names)
    assert not [e["name"] for e in helm["env"] if re.search(r"(_KEY|PASSWORD|SECRET|_CONN_.*)$", e["name"])], \
        "a secret in plain values: use secret: (a Kubernetes Secret)"


def test_docs_name_every_variable_of_the_deployment(compose: dict) -> None:
    docs = (REPO / "docs" / "deploy.md").read_text()
    missing = sorted(v for v in REQUIRED_ENV if v not in docs)
    assert not missing, f"docs/deploy.md does not explain {missing}"
