"""Issue 15, proven: every DAG on a distributed Airflow, and nothing that lives on one worker's disk.

CeleryExecutor on Redis with two workers in different working folders and
HOMEs, metadata and platform on PostgreSQL, objects on an S3 server (moto on
loopback), the master key as an Airflow connection. Every DAG is triggered
through the REST API as the scheduler would run it; reviews are answered through
the REST API as a named user. Then, from a third "machine" (the records
manager's CLI, its own home):

- the access-request bundle opens with the key handed over (``sar handover``,
  ``sar open`` on the ``s3://`` URI with ``--expect-key-id``);
- a study built on one worker ends on the other (the builder stops consuming);
- the ledger is signed by one key and ``audit verify`` passes;
- a destroyed case restored from a backup is recognised as a tombstone by a plan
  on a host that never destroyed anything.

Bounded: about three minutes on an idle 2-core machine. How to run it alone:
``GOVERNANCE_TEST_DEPLOY=1 .venv/bin/python -m pytest -q tests/deploy`` (see conftest.py).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, POSTGRES_URL
from tests.deploy.cluster import BIN, RECORDS_MANAGER, REDIS_DB, REVIEWER, Cluster

pytestmark = [pytest.mark.deploy, pytest.mark.postgres]

AS_OF = "2026-06-30"  # the generator's fixed "today"
SUBJECT = "P000000000"
FAMILIES = 30
RUN_LIMIT = 240  # seconds for any one DAG run


def _need(ok: bool, message: str) -> None:
    if not ok:
        (pytest.fail if IN_CI else pytest.skip)(message)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    from moto.server import ThreadedMotoServer

    _need(_redis_answers(), "Redis not reachable at 127.0.0.1:6379")
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - no server
        _need(False, "PostgreSQL not reachable")
    tag = uuid.uuid4().hex[:10]
    names = [f"gov_deploy_af_{tag}", f"gov_deploy_{tag}"]
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    urls = [make_url(POSTGRES_URL).set(database=n).render_as_string(hide_password=False) for n in names]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-2"}.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    bucket = f"gov-deploy-{tag}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-2")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    root = tmp_path_factory.mktemp("deploy")
    running = Cluster(root, urls[0], urls[1], endpoint, bucket)
    # The secrets a deployment mounts: made here once, on purpose, as an operator would (`keys init`:
    # the ledger's signing key and the shared data keys); no worker mints a key of its own.
    governance(running, "keys", "init")
    try:
        running.up()
        yield running
    finally:
        running.down()
        server.stop()
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        _flush_redis_db(running.queue)


def _flush_redis_db(queue: str) -> None:
    """Remove this run's queue (and its bookkeeping keys) from the Redis database index used."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as s:
            s.sendall(f"SELECT {REDIS_DB}\r\nDEL {queue} unacked unacked_index\r\n".encode())
            s.recv(64)
    except OSError:
        pass


def governance(cluster: Cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The ``governance`` CLI on the records manager's machine (its own home, the master key in its env)."""
    home = Path(cluster.admin_env()["HOME"])
    home.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([str(BIN / "governance"), *args], env=cluster.admin_env(), cwd=home, capture_output=True,
                            text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"governance {' '.join(args)}: {result.returncode} {result.stderr[-1500:]}")
    return result


# -- driving Airflow through its REST API, as the scheduler and a reviewer would ----------------------


def trigger(cluster: Cluster, dag_id: str, conf: dict[str, Any]) -> str:
    cluster.wait_for(lambda: _dag_known(cluster, dag_id), 120, f"DAG {dag_id} parsed")
    # retention_sweep is created paused (a destructive schedule starts only on purpose): the operator
    # un-pauses it, as "unpause on trigger" would; a paused DAG's triggered run would only queue.
    cluster.call(RECORDS_MANAGER, "PATCH", f"/dags/{dag_id}", {"is_paused": False})
    run = cluster.call(RECORDS_MANAGER, "POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
    return run["dag_run_id"]


def _dag_known(cluster: Cluster, dag_id: str) -> bool:
    try:
        return bool(cluster.call(RECORDS_MANAGER, "GET", f"/dags/{dag_id}"))
    except RuntimeError:
        return False


def tasks(cluster: Cluster, dag_id: str, run_id: str) -> dict[str, list[dict[str, Any]]]:
    listed = cluster.call(RECORDS_MANAGER, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
    out: dict[str, list[dict[str, Any]]] = {}
    for ti in listed["task_instances"]:
        out.setdefault(ti["task_id"], []).append(ti)
    return out


def finish(cluster: Cluster, dag_id: str, run_id: str, *, reviews: list[list[Any]] = ()) -> dict:
    """Wait for the run; meanwhile answer any waiting form in ``reviews`` as the IG reviewer.

    ``reviews``: ``[dag_id, run_id, task_id, option, answered]`` items, shared between calls so a
    form in another run is answered as soon as it waits, not when that run's turn comes.
    """
    deadline = time.monotonic() + RUN_LIMIT
    while time.monotonic() < deadline:
        run = cluster.call(RECORDS_MANAGER, "GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        if run["state"] in ("success", "failed"):
            assert run["state"] == "success", f"{dag_id} {run_id} failed: {_failed(cluster, dag_id, run_id)}"
            return tasks(cluster, dag_id, run_id)
        for review in reviews:
            if not review[4]:
                review[4] = _answer(cluster, *review[:4])
        time.sleep(2)
    raise AssertionError(f"{dag_id} {run_id} did not finish within {RUN_LIMIT}s: {tasks(cluster, dag_id, run_id)}")


# The whole form, as Airflow's page submits it. With Approve, a request's flagged third-party notes
# are withheld as proposed; the sweep's approval needs no reason (a rejection would).
FORM_INPUT = {"subject_access": {"send_back_reason": "other", "withhold_undecided_flagged_notes": True},
              "retention_sweep": {"reason": None}}


def _answer(cluster: Cluster, dag_id: str, run_id: str, task_id: str, option: str) -> bool:
    """Answer the form if it waits (through the REST API, as the named reviewer); whether it was answered."""
    ti = tasks(cluster, dag_id, run_id).get(task_id, [{}])[0]
    if ti.get("state") not in ("deferred", "awaiting_input"):
        return False
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
    try:
        answer = cluster.call(REVIEWER, "PATCH", path, {"chosen_options": [option],
                                                        "params_input": FORM_INPUT.get(dag_id, {})})
    except RuntimeError as exc:  # the form is written just after the task defers
        if "404" not in str(exc):
            raise
        return False
    assert answer["responded_by"]["name"] == REVIEWER
    return True


def _failed(cluster: Cluster, dag_id: str, run_id: str) -> list[str]:
    return [f"{t} on {ti['hostname']}" for t, tis in tasks(cluster, dag_id, run_id).items() for ti in tis
            if ti["state"] in ("failed", "upstream_failed")]


def hosts_of(ran: dict[str, list[dict[str, Any]]], task_id: str) -> set[str]:
    return {ti["hostname"] for ti in ran.get(task_id, []) if ti["state"] == "success"}


def stop_consuming(cluster: Cluster, worker: str) -> None:
    """The worker stops taking tasks from the queue, as if its machine were gone (Celery remote control)."""
    env = cluster.airflow_env("admin-airflow")
    result = subprocess.run([str(BIN / "celery"), "--app", "airflow.providers.celery.executors.celery_executor.app",
                             "control", "cancel_consumer", cluster.queue, "--destination",
                             f"{worker}@{socket.gethostname()}"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1000:]


# -- the test ------------------------------------------------------------------------------------------


def test_every_dag_runs_on_two_celery_workers_and_nothing_lives_on_one_workers_disk(cluster: Cluster) -> None:
    started = time.monotonic()
    print(f"deployment test: cluster up in {cluster.started_in:.0f}s", file=sys.stderr)
    seeded = finish(cluster, "platform_foundation", trigger(cluster, "platform_foundation",
                                                            {"families": FAMILIES, "seed": 7}))
    assert hosts_of(seeded, "export_and_verify_ledger")

    platform = sa.create_engine(cluster.platform_url)
    with platform.connect() as conn:  # a backup, for the tombstone check at the end
        backup = {row.case_id: dict(row._mapping) for row in conn.execute(sa.text("SELECT * FROM cases"))}

    # The day's work, in parallel across both workers. The access request is lodged first thing
    # (its hold keeps the subject's cases); the sweep starts once quality has passed and the study
    # has its extract, and runs beside the rest.
    runs = {
        # A small store quarantines a larger share than the default gate allows (12 of 41 cases).
        "data_quality": trigger(cluster, "data_quality", {"as_of": AS_OF, "max_quarantined_share": 0.5}),
        "subject_access": trigger(cluster, "subject_access", {"subject_person_id": SUBJECT, "received_on": "2026-06-01"}),
        "research_extracts": trigger(cluster, "research_extracts", {"as_of": AS_OF, "demo_study": True}),
        "sharing_compliance": trigger(cluster, "sharing_compliance", {"as_of": AS_OF}),
        "subject_access_deadlines": trigger(cluster, "subject_access_deadlines", {"as_of": AS_OF}),
    }
    reviews = [["subject_access", runs["subject_access"], "review_in_airflow", "Approve", False]]
    ran = {dag: finish(cluster, dag, runs[dag], reviews=reviews) for dag in ("data_quality", "research_extracts")}
    sweep = trigger(cluster, "retention_sweep", {"as_of": AS_OF})
    reviews.append(["retention_sweep", sweep, "review_batch", "Approve", False])
    ran.update({dag: finish(cluster, dag, run, reviews=reviews) for dag, run in runs.items() if dag not in ran})
    print(f"deployment test: the day's DAGs done at {time.monotonic() - started:.0f}s", file=sys.stderr)
    workers_used = {ti["hostname"] for dag in ran.values() for tis in dag.values() for ti in tis if ti["hostname"]}
    assert workers_used == {"worker-a", "worker-b"}, workers_used

    # The access request: bundle built and delivered by workers, handed over and opened on another machine.
    delivered = json.loads(governance(cluster, "sar", "list", "--json").stdout)
    request = next(r for r in delivered["requests"] if r["status"] == "delivered")
    rid = request["request_id"]
    handed = json.loads(governance(cluster, "sar", "handover", "--request", rid, "--json").stdout)
    bundle_uri = f"s3://{cluster.bucket}/governance/sar/{rid}/bundle.enc"
    opened = governance(cluster, "sar", "open", "--package", bundle_uri, "--key-file", handed["key_file"],
                        "--expect-key-id", handed["key_id"], "--out", str(cluster.root / "opened"), "--json")
    assert json.loads(opened.stdout)["verified"] is True
    for worker in ("worker-a", "worker-b"):
        assert not (cluster.root / worker / "governance" / "sar").exists()  # no hand-over on a worker's disk

    # The study ends on the worker that did not build it: the builder stops taking work.
    builder = hosts_of(ran["research_extracts"], "build_extract")
    assert len(builder) == 1
    other = ({"worker-a", "worker-b"} - builder).pop()
    stop_consuming(cluster, builder.pop())
    ended = finish(cluster, "research_extracts", trigger(cluster, "research_extracts", {"as_of": "2027-01-01"}),
                   reviews=reviews)
    assert hosts_of(ended, "end_study") == {other}

    # Retention: the sweep's review answered in Airflow as the IG reviewer.
    swept = finish(cluster, "retention_sweep", sweep, reviews=reviews)
    assert reviews[0][4], "the access request's review was never asked for"
    assert reviews[1][4] or "auto_approved" in {t for t, tis in swept.items() if tis[0]["state"] == "success"}
    assert hosts_of(swept, "certificate")
    with platform.begin() as conn:
        gone = sorted(set(backup) - set(conn.execute(sa.text("SELECT case_id FROM cases")).scalars()))
        assert gone, "the sweep destroyed nothing: the test proves nothing about tombstones"
        conn.execute(sa.table("cases", *[sa.column(c) for c in backup[gone[0]]]).insert(), [backup[gone[0]]])
    platform.dispose()

    # A host that never destroyed anything recognises the restored case by its tombstone.
    plan = json.loads(governance(cluster, "retention", "plan", "--as-of", AS_OF, "--json").stdout)
    restored = [d for d in plan["due"] + plan["review"] + plan["excluded"] if d["case_id"] == gone[0]]
    assert [d["rule"] for d in restored] == ["tombstone"], restored

    # One signing key for the whole ledger, and the ledger verifies.
    verified = governance(cluster, "audit", "verify")
    assert verified.stdout.count("signed by key") == 1, verified.stdout
    print(f"deployment test: {time.monotonic() - started:.0f}s after start-up", file=sys.stderr)

