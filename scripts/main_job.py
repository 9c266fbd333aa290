"""The platform's main job on its embedded defaults: what `python3 dev.py demo` runs.

Runs the platform's DAGs end to end through Airflow (``airflow dags test``, on
Airflow's SQLite metadata database under ./var/airflow), then checks the results
with the ``governance`` CLI and prints what was done and where the outputs are.

Airflow's own logs are long; they go to ./var/logs/main-job/<dag>.log and only
a summary is printed. Exit status is non-zero if any DAG run or check fails.

As capabilities land (retention, quality, access requests, research, sharing),
their DAGs join ``MAIN_DAGS`` in the order the platform runs them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from airflow_env import airflow_env  # noqa: E402

# (dag_id, run configuration builder)
MAIN_DAGS = (
    ("platform_foundation", lambda a: {"families": a.families, "seed": a.seed}),
)


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _run(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.CompletedProcess:
    if log is None:
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.run(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def _indented(result: subprocess.CompletedProcess, prefix: str = "") -> str:
    text = (result.stdout.strip() or result.stderr.strip()).replace("\n", "\n      ")
    return f"    {prefix}{text}"


def _failure_lines(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    picked = [line for line in lines if "GOVERNANCE TASK FAILED" in line or "Error" in line or "error" in line]
    return [line[:400] for line in picked[-5:]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=200, help="families to generate per store (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--home", type=Path, default=ROOT / "var", help="GOVERNANCE_HOME (default ./var)")
    args = parser.parse_args()

    home = args.home.resolve()
    env = airflow_env(ROOT, home)
    env["GOVERNANCE_HOME"] = str(home)
    bin_dir = Path(sys.executable).parent
    airflow, governance = str(bin_dir / "airflow"), str(bin_dir / "governance")
    logs = home / "logs" / "main-job"
    started = time.monotonic()

    metadata_db = home / "airflow" / "airflow.db"
    if not metadata_db.exists():
        _step("preparing Airflow's metadata database (first run only)")
        result = _run([airflow, "db", "migrate"], env, logs / "airflow-db-migrate.log")
        if result.returncode != 0:
            print(f"airflow db migrate failed; see {logs / 'airflow-db-migrate.log'}", file=sys.stderr)
            return 1

    for dag_id, conf in MAIN_DAGS:
        _step(f"running DAG {dag_id} through Airflow")
        log = logs / f"{dag_id}.log"
        t0 = time.monotonic()
        result = _run([airflow, "dags", "test", dag_id, "-c", json.dumps(conf(args))], env, log)
        if result.returncode != 0:
            print(f"    DAG {dag_id} FAILED after {time.monotonic() - t0:.0f}s; log: {log}", file=sys.stderr)
            for line in _failure_lines(log):
                print(f"    {line}", file=sys.stderr)
            return 1
        print(f"    {dag_id}: success in {time.monotonic() - t0:.0f}s (log: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})")

    _step("checking the results with the governance CLI")
    counts = _run([governance, "store", "counts"], env)
    print(_indented(counts))
    verify = _run([governance, "audit", "verify"], env)
    print(_indented(verify, "database ledger: "))
    bundles = sorted((home / "exports").glob("ledger-*"), key=lambda p: p.stat().st_mtime)
    bundle_check = None
    if bundles:
        bundle_check = _run([governance, "audit", "verify", "--bundle", str(bundles[-1])], env)
        print(_indented(bundle_check, "offline bundle: "))
    if counts.returncode or verify.returncode or not bundles or (bundle_check and bundle_check.returncode):
        print("main job: a check FAILED (see above)", file=sys.stderr)
        return 1

    print()
    print(f"Main job finished in {time.monotonic() - started:.0f}s. Outputs:")
    print(f"  case stores      {home / 'stores'}")
    print(f"  documents        {home / 'objects'}")
    print(f"  audit ledger     {home / 'ledger.db'}   (governance audit verify | audit log)")
    print(f"  ledger bundle    {bundles[-1]}   (auditors: governance audit verify --bundle DIR)")
    print(f"  keys             {home / 'keys'}   (0600; never commit)")
    print(f"  Airflow logs     {logs}")
    print("  Airflow UI       python3 dev.py airflow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
