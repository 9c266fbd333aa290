"""The platform's main job on its embedded defaults: what `python3 dev.py demo` runs.

Runs the platform's DAGs end to end through Airflow (``airflow dags test``, on
Airflow's SQLite metadata database under ./var/airflow), then checks the results
with the ``governance`` CLI and prints what was done and where the outputs are:

1. platform_foundation: seed fictional families, record it, export and verify the ledger;
2. data_quality: validate the store, quarantine what fails, publish Data Docs;
3. sharing_compliance: check shares, consent and file access, raise findings;
4. research_extracts (twice): a demonstration study is extracted, then ended (anonymised);
5. subject_access: one access request, lodged and approved with the CLI, fulfilled by the DAG;
6. retention_sweep: plan, review (the demo plays the IG reviewer, through Airflow's
   Required Actions API), destroy in chunks, verify, certify.

Dates are the synthetic store's fixed "today" (2026-06-30), so results are the
same on every machine.

Airflow's own logs are long; they go to ./var/logs/main-job/<dag>.log and only
a summary is printed. ``dags test`` runs the tasks in its own process and writes
no task log files, so at the end each run's output is split into the per-task
files the UI's log tab reads (scripts/dag_test_logs.py). Exit status is non-zero
if any DAG run or check fails.

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

from airflow_env import airflow_env, private_airflow_home  # noqa: E402

AS_OF = "2026-06-30"  # the generator's fixed "today": results match its manifest
MAIN_SAR = "sar-main-" + time.strftime("%Y%m%d-%H%M%S")  # new per run: a delivered request cannot be re-approved
MAIN_SAR_STEPS = (
    ["sar", "lodge", "--subject", "P000000000", "--received", "2026-06-01", "--request-id", MAIN_SAR],
    ["sar", "review", "--request", MAIN_SAR, "--json"],
    # The approval names the pack the manager read (its hash, from the review just printed); flagged
    # third-party notes are withheld as proposed, the careful default.
    lambda review: ["sar", "approve", "--request", MAIN_SAR, "--approved-by", "records.manager",
                    "--pack-hash", json.loads(review)["pack_hash"], "--withhold-undecided"],
)
DEMO_REVIEWER = "demo.ig.reviewer"

# (dag_id, run configuration builder, governance CLI steps before, HITL reviewer during)
MAIN_DAGS = (
    ("platform_foundation", lambda a: {"families": a.families, "seed": a.seed}, (), None),
    ("data_quality", lambda a: {"as_of": AS_OF}, (), None),
    ("sharing_compliance", lambda a: {"as_of": AS_OF}, (), None),
    ("research_extracts", lambda a: {"as_of": AS_OF, "demo_study": True}, (), None),
    ("research_extracts", lambda a: {"as_of": "2027-01-01"}, (), None),
    ("subject_access", lambda a: {"request_id": MAIN_SAR}, MAIN_SAR_STEPS, None),
    ("retention_sweep", lambda a: {"as_of": AS_OF}, (), DEMO_REVIEWER),
)


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _run(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.CompletedProcess:
    if log is None:
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        return subprocess.run(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def run_dag_test(airflow: str, dag_id: str, conf: dict, env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    """One DAG run through ``airflow dags test``, its whole output saved in ``log``."""
    return _run([airflow, "dags", "test", dag_id, "-c", json.dumps(conf)], env, log)


def file_task_logs(outputs: list[Path], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Split saved ``dags test`` outputs into per-task log files for the UI (scripts/dag_test_logs.py).

    One process for all runs: it imports Airflow, which costs seconds.
    """
    return _run([sys.executable, str(ROOT / "scripts" / "dag_test_logs.py"), *map(str, outputs)], env)


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
    for warning in private_airflow_home(env):  # umask 077: everything the job and Airflow write is 0600
        print(warning, file=sys.stderr)
    bin_dir = Path(sys.executable).parent
    airflow, governance = str(bin_dir / "airflow"), str(bin_dir / "governance")
    logs = home / "logs" / "main-job"
    started = time.monotonic()
    ran: list[Path] = []  # the saved output of each `dags test` run, split into task logs at the end

    metadata_db = home / "airflow" / "airflow.db"
    if not metadata_db.exists():
        _step("preparing Airflow's metadata database (first run only)")
        result = _run([airflow, "db", "migrate"], env, logs / "airflow-db-migrate.log")
        if result.returncode != 0:
            print(f"airflow db migrate failed; see {logs / 'airflow-db-migrate.log'}", file=sys.stderr)
            return 1

    for number, (dag_id, conf, before, reviewer) in enumerate(MAIN_DAGS, start=1):
        _step(f"running DAG {dag_id} through Airflow")
        previous = ""
        for command in before:
            if callable(command):  # built from the previous step's output
                command = command(previous)
            pre = _run([governance, *command], env)
            if pre.returncode != 0:
                print(f"    governance {command[0]} {command[1]} FAILED: {pre.stderr.strip()}", file=sys.stderr)
                return 1
            previous = pre.stdout
            print(f"    governance {' '.join(command[:2])}: ok")
        log = logs / f"{number:02d}-{dag_id}.log"
        t0 = time.monotonic()
        helper = None
        if reviewer:
            print(f"    the demo plays the IG reviewer: {reviewer} answers the review in Airflow")
            helper = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo_reviewer.py"), "--dag", dag_id,
                                       "--as", reviewer, "--option", "Approve"], env=env, cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            result = run_dag_test(airflow, dag_id, conf(args), env, log)
            ran.append(log)
        finally:
            if helper is not None:
                helper.terminate()
                said, _ = helper.communicate(timeout=30)
                # Only the reviewer's own lines: Airflow's start-up chatter (and its generated
                # admin password) stays out of the job's output.
                for line in said.strip().splitlines():
                    if line.startswith("demo reviewer"):
                        print(f"    {line}")
        if result.returncode != 0:
            print(f"    DAG {dag_id} FAILED after {time.monotonic() - t0:.0f}s; log: {log}", file=sys.stderr)
            for line in _failure_lines(log):
                print(f"    {line}", file=sys.stderr)
            file_task_logs(ran, env)  # the failed task's log in the UI too
            return 1
        print(f"    {dag_id}: success in {time.monotonic() - t0:.0f}s (log: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})")

    _step("filing each task's log where Airflow's UI reads it")
    filed = file_task_logs(ran, env)
    print(_indented(filed))
    failed = bool(filed.returncode)

    _step("checking the results with the governance CLI")
    counts = _run([governance, "store", "counts"], env)
    print(_indented(counts))
    failed |= bool(counts.returncode)

    quarantine = _run([governance, "quality", "quarantine", "list", "--json"], env)
    if quarantine.returncode == 0:
        listed = json.loads(quarantine.stdout)
        print(f"    data quality: {listed['count']} quarantine rows (their cases stay out of retention until released)")
    else:
        failed = True
        print(_indented(quarantine, "data quality: "))
    docs = sorted((home / "objects" / "quality").glob("*/data-docs/index.html"))
    failed |= not docs

    sharing = _run([governance, "sharing", "findings", "--status", "open", "--json"], env)
    if sharing.returncode == 0:
        by_rule: dict[str, int] = {}
        for finding in json.loads(sharing.stdout)["findings"]:
            by_rule[finding["rule"]] = by_rule.get(finding["rule"], 0) + 1
        print(f"    sharing findings: {sum(by_rule.values())} open ("
              + ", ".join(f"{rule}={n}" for rule, n in sorted(by_rule.items())) + ")")
    else:
        failed = True
        print(_indented(sharing, "sharing findings: "))

    research = _run([governance, "research", "list"], env)
    print(_indented(research, "research: "))
    research_certificate = home / "objects" / "certificates" / "research" / "DEMO-EH-2026.json"
    failed |= bool(research.returncode) or not research_certificate.is_file()

    handover = home / "sar" / "handover" / MAIN_SAR
    package = home / "objects" / "sar" / MAIN_SAR / "bundle.enc"
    opened = _run([governance, "sar", "open", "--package", str(package), "--key-file", str(handover / "key.txt"),
                   "--out", str(home / "sar" / "opened" / MAIN_SAR)], env)
    print(_indented(opened, "access request bundle: "))
    failed |= bool(opened.returncode)

    certificates = sorted((home / "objects" / "retention" / "certificates").glob("*.pdf"), key=lambda p: p.stat().st_mtime)
    if certificates:
        batch_id = certificates[-1].stem
        shown = _run([governance, "retention", "batch", "show", batch_id], env)
        print(_indented(shown, "retention: "))
        failed |= bool(shown.returncode)
    else:
        print("    retention: no certificate (nothing was due?)", file=sys.stderr)
        failed = True
    # Last: the whole ledger, in the database and as the offline bundle an auditor is handed.
    final = _run([governance, "audit", "verify"], env)
    print(_indented(final, "database ledger: "))
    bundle = home / "exports" / f"ledger-{time.strftime('%Y%m%d-%H%M%S')}"
    exported = _run([governance, "audit", "export", str(bundle)], env)
    bundle_check = _run([governance, "audit", "verify", "--bundle", str(bundle)], env)
    print(_indented(bundle_check if exported.returncode == 0 else exported, "offline bundle: "))
    failed |= bool(final.returncode or exported.returncode or bundle_check.returncode)

    if failed:
        print("main job: a check FAILED (see above)", file=sys.stderr)
        return 1

    print()
    print(f"Main job finished in {time.monotonic() - started:.0f}s. Outputs:")
    print(f"  case stores      {home / 'stores'}")
    print(f"  documents        {home / 'objects' / 'stores'}")
    print(f"  audit ledger     {home / 'ledger.db'}   (governance audit verify | audit log)")
    print(f"  ledger bundle    {bundle}   (auditors: governance audit verify --bundle DIR)")
    for index in docs:
        print(f"  Data Docs        {index}   (store {index.parts[-3]}; counts and identifiers only)")
    print(f"  sharing findings {home / 'ledger.db'}, table sharing_findings   (governance sharing findings)")
    print(f"  research cert    {research_certificate}   (governance research show DEMO-EH-2026)")
    print(f"  access request   {package}   (key and link, sent apart: {handover}; governance sar open)")
    print(f"  destruction cert {certificates[-1]}   (and .json; governance retention batch show {certificates[-1].stem})")
    print(f"  keys             {home / 'keys'}   (0600; never commit)")
    print(f"  Airflow logs     {logs}")
    print("  Airflow UI       python3 dev.py airflow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
