"""The retention sweep as deployed: store, ledger and state on PostgreSQL, objects on an S3 server.

    python bench/retention_s3_bench.py --sizes 20000,100000      # by hand; takes a while
    python bench/retention_s3_bench.py --sizes 5000,20000 --s3-endpoint http://127.0.0.1:8000 \
        --s3-access-key accessKey1 --s3-secret-key verySecretKey1 --s3-region us-east-1 --delete-threads 8

For each size: a fresh PostgreSQL database (``GOVERNANCE_TEST_POSTGRES_URL``'s
server) is seeded with that many synthetic families, their documents in a
versioned bucket on moto's S3 server (started here on loopback, its own process)
or, with ``--s3-endpoint``, on an S3 server already running there (CloudServer,
MinIO; its buckets are emptied and removed afterwards, untimed), then copied
(``CREATE DATABASE ... TEMPLATE``) for the floor. Measured:

- ``platform``: plan, batch, approve, execute in chunks, as shipped (eligibility
  re-checked, intent/complete with the ledger, every object version deleted with
  batched ``DeleteObjects``, at most 1000 versions a request), in its own process
  so its peak RSS is its own; rows/s for the rows phase and end to end, object
  versions/s, and the share of a chunk's time spent on objects;
- ``floor``: hand-written bulk DELETEs of the same rows in one transaction, no
  checks, no ledger; and the same object versions removed with bare
  ``DeleteObjects`` calls (1000 a request), no checks.

Both must delete the same number of rows from every table, or the run stops.

Also printed: the platform's S3 requests by operation (count and seconds), the
S3 server's CPU seconds meanwhile (an external server's only with ``--s3-server-pid``, its processes' pids), and the load average before and after (other
work shares the cores). On moto every ``ListObjectVersions`` request deep-copies
every version in the bucket, so its cost grows with the store, not the page: the
request counts are what carries over to S3 or MinIO.

``--delete-threads`` (default 1 here): moto 5.2's server races ListObjectVersions
against concurrent deletes and answers HTTP 500 ("'NoneType' object is not
iterable"), which botocore retries with back-off, so against moto the platform's
usual 8 threads measure moto's bug. Against MinIO or S3 pass ``--delete-threads 8``.
(``S3ObjectStore.delete_many`` now lists before it deletes, one request at a time;
the threads overlap only Object Lock HEADs and the per-key fallback.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = date(2026, 6, 30)
POSTGRES_URL = os.environ.get("GOVERNANCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STORE_TABLES = ("families", "people", "cases", "case_members", "casenotes", "documents", "consents",
                "consent_opt_outs", "sharing_records", "file_access_log")
CHILD_TABLES = ("casenotes", "documents", "sharing_records", "file_access_log", "case_members")

# The floor on PostgreSQL: the rows the platform removes, in one transaction, no checks, no ledger.
_FLOOR_SQL = [
    "CREATE TEMP TABLE doomed AS SELECT unnest(CAST(:ids AS text[])) AS case_id",
    "CREATE TEMP TABLE doomed_people AS SELECT DISTINCT person_id FROM case_members WHERE case_id IN (SELECT case_id FROM doomed)",
    "CREATE TEMP TABLE doomed_families AS SELECT DISTINCT family_id FROM cases WHERE case_id IN (SELECT case_id FROM doomed)",
    *[f"DELETE FROM {t} WHERE case_id IN (SELECT case_id FROM doomed)" for t in CHILD_TABLES],
    "DELETE FROM cases WHERE case_id IN (SELECT case_id FROM doomed)",
    "CREATE TEMP TABLE gone_families AS SELECT family_id FROM doomed_families d WHERE NOT EXISTS "
    "(SELECT 1 FROM cases c WHERE c.family_id = d.family_id)",
    "CREATE TEMP TABLE gone_consents AS SELECT consent_id FROM consents "
    "WHERE case_id IN (SELECT case_id FROM doomed) OR family_id IN (SELECT family_id FROM gone_families)",
    "DELETE FROM consent_opt_outs WHERE consent_id IN (SELECT consent_id FROM gone_consents)",
    "DELETE FROM consents WHERE consent_id IN (SELECT consent_id FROM gone_consents)",
    "DELETE FROM people p WHERE (person_id IN (SELECT person_id FROM doomed_people) OR family_id IN "
    "(SELECT family_id FROM gone_families)) AND NOT EXISTS (SELECT 1 FROM case_members m WHERE m.person_id = p.person_id)",
    "DELETE FROM families WHERE family_id IN (SELECT family_id FROM gone_families)",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(url: str, bucket: str, endpoint: str, home: Path):
    from governance.config import Settings

    return Settings.from_env({"GOVERNANCE_HOME": str(home), "GOVERNANCE_STORE_DEFAULT_URL": url,
                              "GOVERNANCE_LEDGER_URL": url, "GOVERNANCE_OBJECTS_URL": f"s3://{bucket}/objects",
                              "GOVERNANCE_S3_ENDPOINT_URL": endpoint})


def _counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in STORE_TABLES}
    finally:
        engine.dispose()


def run_platform(url: str, bucket: str, endpoint: str, home: Path, threads: int = 1) -> dict:
    import governance.storage.base as storage_base
    from governance.jobs import retention as jobs

    storage_base.DELETE_THREADS = threads  # see the module docstring
    s3_calls = _count_s3_requests()

    settings = _settings(url, bucket, endpoint, home)
    t0 = time.perf_counter()
    jobs.plan(settings, "default", as_of=AS_OF, list_cases=False)
    plan_s = time.perf_counter() - t0
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="bench.alice", quality_max_age=None)
    jobs.approve(settings, proposed["batch_id"], approved_by="bench.bob")
    before = _counts(url)
    t0 = time.perf_counter()
    executed = jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="bench.bob")
    execute_s = time.perf_counter() - t0
    deleted = {t: before[t] - n for t, n in _counts(url).items()}
    objects_s = executed["seconds_objects"]
    rows = sum(deleted.values())
    return {"plan_s": round(plan_s, 2), "cases": executed["cases"], "chunks": executed["chunks"], "rows": rows,
            "deleted": deleted, "object_versions": executed["object_versions"], "execute_s": round(execute_s, 2),
            "objects_s": round(objects_s, 2), "objects_share": round(objects_s / execute_s, 3),
            "rows_per_s_rows_phase": round(rows / (execute_s - objects_s)), "rows_per_s": round(rows / execute_s),
            "object_versions_per_s": round(executed["object_versions"] / objects_s) if objects_s else None,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "s3_requests": {op: [n, round(t, 2)] for op, (n, t) in sorted(s3_calls.items())}}


def _count_s3_requests() -> dict[str, list]:
    """{operation: [requests, seconds]} of every S3 client the platform builds, through botocore's events."""
    import threading

    from governance.storage.s3 import S3ObjectStore

    calls: dict[str, list] = {}
    started = threading.local()
    make = S3ObjectStore._make_client

    def before(model, **_):
        started.at = time.perf_counter()

    def after(model, **_):
        seen = calls.setdefault(model.name, [0, 0.0])
        seen[0] += 1
        seen[1] += time.perf_counter() - started.at

    def counted(self):
        client = make(self)
        client.meta.events.register("before-call.s3", before)
        client.meta.events.register("after-call.s3", after)
        return client

    S3ObjectStore._make_client = counted
    return calls


def run_floor(url: str, ids: list[str], bucket: str, copied: dict[str, str], endpoint: str) -> dict:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        keys = sorted(set(conn.execute(sa.text("SELECT object_key FROM documents WHERE case_id = ANY(:ids) "
                                               "AND object_key IS NOT NULL"), {"ids": ids}).scalars()))
    before = _counts(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for statement in _FLOOR_SQL:
            conn.execute(sa.text(statement), {"ids": ids} if ":ids" in statement else {})
    rows_s = time.perf_counter() - t0
    engine.dispose()
    deleted = {t: before[t] - n for t, n in _counts(url).items()}
    s3 = _client(endpoint)
    # The floor's bucket holds one version of each object, its copy: its id came back from the copy.
    versions = [{"Key": f"objects/{key}", "VersionId": copied[f"objects/{key}"]} for key in keys]
    t0 = time.perf_counter()
    for start in range(0, len(versions), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": versions[start:start + 1000], "Quiet": True})
    objects_s = time.perf_counter() - t0
    rows = sum(deleted.values())
    return {"rows": rows, "deleted": deleted, "rows_s": round(rows_s, 2), "rows_per_s": round(rows / rows_s),
            "object_versions": len(versions), "objects_s": round(objects_s, 2),
            "object_versions_per_s": round(len(versions) / objects_s) if objects_s else None}


def _admin():
    import sqlalchemy as sa

    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def _database(name: str, template: str | None = None) -> str:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    with _admin().connect() as conn:
        if template:  # a template must have no other sessions: the seeding's pooled connections go
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                                 "AND pid <> pg_backend_pid()"), {"n": template})
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def _drop(*names: str) -> None:
    import sqlalchemy as sa

    with _admin().connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _client(endpoint: str):
    """A raw boto3 client that also sends Content-MD5 with DeleteObjects (CloudServer 8 needs it)."""
    import boto3

    from governance.storage.s3 import send_content_md5

    return send_content_md5(boto3.client("s3", endpoint_url=endpoint, region_name=os.environ["AWS_DEFAULT_REGION"]))


def _create_bucket(s3, bucket: str) -> None:
    region = os.environ["AWS_DEFAULT_REGION"]
    # us-east-1 is the default location and S3 refuses it named as a constraint.
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                       {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _remove_bucket(s3, bucket: str) -> None:
    """Every version and delete marker, then the bucket: an external server is left as found."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def _start_moto(work: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=open(work.parent / "moto.log", "ab"), start_new_session=True)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return server, f"http://127.0.0.1:{port}"


def one_size(families: int, work: Path, threads: int = 1, external: str | None = None,
             server_pids: list[int] | None = None) -> dict:
    """``external``: an S3 endpoint already running (credentials and region in the environment), else moto."""
    # A fresh work folder: the last run's ledger witness would not match this run's new ledger.
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    server, endpoint = (None, external) if external else _start_moto(work)
    server_pids = [server.pid] if server else server_pids
    tag = uuid.uuid4().hex[:8]
    names = [f"gov_bench_{tag}", f"gov_bench_{tag}_floor"]
    bucket = f"gov-bench-{tag}"
    floor_bucket = f"{bucket}-floor"
    s3 = _client(endpoint)
    try:
        _create_bucket(s3, bucket)
        url = _database(names[0])
        from governance.stores.seeding import seed_store

        t0 = time.perf_counter()
        seed_store(_settings(url, bucket, endpoint, work / "seed"), "default", families=families, seed=17)
        seeded_s = time.perf_counter() - t0
        floor_url = _database(names[1], template=names[0])
        copied = _copy_bucket(s3, bucket, floor_bucket)  # the floor deletes the same objects there
        # The platform in its own process: its peak memory is its own.
        server_cpu, load = _cpu_seconds(server_pids), _load()
        out = subprocess.run([sys.executable, __file__, "--delete-threads", str(threads),  # credentials: inherited
                              "--platform", url, bucket, endpoint, str(work / "platform")],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"the platform run failed: {out.stderr[-3000:]}")
        platform = json.loads(out.stdout.strip().splitlines()[-1])
        platform["server_cpu_s"] = round(_cpu_seconds(server_pids) - server_cpu, 1)  # the server's own work meanwhile
        platform["load_before_after"] = [load, _load()]
        ids = _done_ids(url)
        floor = run_floor(floor_url, ids, floor_bucket, copied, endpoint)
        if floor["deleted"] != platform["deleted"]:
            raise SystemExit(f"platform and floor removed different rows: {platform['deleted']} vs {floor['deleted']}")
        return {"families": families, "seed_s": round(seeded_s, 1), "platform": platform, "floor": floor,
                "rows_phase_vs_floor": round((platform["execute_s"] - platform["objects_s"]) / floor["rows_s"], 2),
                "objects_vs_floor": round(platform["objects_s"] / floor["objects_s"], 2) if floor["objects_s"] else None}
    finally:
        if server:
            server.kill()
            server.wait(timeout=30)
        else:
            for name in (bucket, floor_bucket):
                try:
                    _remove_bucket(s3, name)
                except Exception as exc:  # a bucket never made, say; the run's own error matters more
                    print(f"could not remove bucket {name}: {exc}", file=sys.stderr)
        _drop(*names)


def _copy_bucket(s3, source: str, target: str) -> dict[str, str]:
    """Copy every object to a new versioned bucket; {key: the copy's version id}.

    The ids are kept so the floor needs no listing (on moto every ListObjectVersions scans the bucket).
    """
    from concurrent.futures import ThreadPoolExecutor

    _create_bucket(s3, target)
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=source)
            for item in page.get("Contents", [])]

    def copy(key: str) -> str:
        return s3.copy_object(Bucket=target, Key=key, CopySource={"Bucket": source, "Key": key})["VersionId"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(keys, pool.map(copy, keys)))


def _cpu_seconds(pids: list[int] | None) -> float:
    """User + system CPU seconds of the server's processes so far (Linux /proc); NaN when they are not known."""
    if not pids:
        return float("nan")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    """The 1, 5 and 15 minute load averages: other work shares this machine's cores."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _done_ids(url: str) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = list(conn.execute(sa.text("SELECT case_id FROM retention_batch_items WHERE state = 'done'")).scalars())
    engine.dispose()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000", help="families per run, comma-separated (default 20000)")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench-retention-s3")
    parser.add_argument("--delete-threads", type=int, default=1, help="object-deletion threads (default 1: moto)")
    parser.add_argument("--s3-endpoint", help="an S3 server already running (default: start moto's on loopback)")
    parser.add_argument("--s3-access-key", default="bench", help="its access key (moto takes any)")
    parser.add_argument("--s3-secret-key", default="bench", help="its secret key")
    parser.add_argument("--s3-region", default="eu-west-2", help="its region (CloudServer: us-east-1)")
    parser.add_argument("--s3-server-pid", help="the external server's pids, comma-separated, to report their CPU seconds")
    parser.add_argument("--platform", nargs=4, metavar=("URL", "BUCKET", "ENDPOINT", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.platform:  # the child run: credentials and region come in its environment, from the parent
        url, bucket, endpoint, home = args.platform
        print(json.dumps(run_platform(url, bucket, endpoint, Path(home), args.delete_threads)))
        return
    os.environ.update({"AWS_ACCESS_KEY_ID": args.s3_access_key, "AWS_SECRET_ACCESS_KEY": args.s3_secret_key,
                       "AWS_DEFAULT_REGION": args.s3_region})
    for size in (int(s) for s in args.sizes.split(",")):
        row = one_size(size, args.work / f"families-{size}", args.delete_threads, args.s3_endpoint,
                       [int(pid) for pid in args.s3_server_pid.split(",")] if args.s3_server_pid else None)
        p, f = row["platform"], row["floor"]
        print(f"{size} families: {p['cases']} cases, {p['rows']} rows, {p['object_versions']} object versions in "
              f"{p['chunks']} chunks; platform rows phase {p['rows_per_s_rows_phase']} rows/s "
              f"({row['rows_phase_vs_floor']}x the floor's {f['rows_per_s']} rows/s), objects "
              f"{p['object_versions_per_s']} versions/s (floor {f['object_versions_per_s']}), objects "
              f"{p['objects_share'] * 100:.0f}% of execution; peak RSS {p['peak_rss_mb']} MB; S3 requests "
              f"[count, s] {p['s3_requests']}; S3 server CPU {p['server_cpu_s']} s; "
              f"load {p['load_before_after'][0]} -> {p['load_before_after'][1]}", flush=True)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
