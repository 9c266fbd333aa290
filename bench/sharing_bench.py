"""Benchmark the sharing compliance run: time and peak memory at several store sizes.

    python bench/sharing_bench.py                          # 5,000, 10,000 and 20,000 families, SQLite
    python bench/sharing_bench.py --sizes 20000 --workdir /tmp/sharing-bench   # keep stores for reruns
    python bench/sharing_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Each store is generated once (a separate process; generation time is reported
apart, it is not part of the compliance run). Each compliance run is then a
fresh process against a fresh state database and ledger, so peak RSS is that
run's own. Reported per size: detection alone, the first full run (every
finding new: detect, reconcile, ledger entry, checkpoint) and a second run
(steady state: findings already known), findings found, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 1


def _store_url(size: int, workdir: Path, postgres: str | None) -> str:
    if not postgres:
        return f"sqlite:///{workdir / f'store-{size}.db'}"
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"sharing_bench_{size}"
    admin = sa.create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(postgres).set(database=name).render_as_string(hide_password=False)


def generate(size: int, url: str, workdir: Path) -> dict:
    from governance.config import StoreConfig
    from governance.storage import open_object_store
    from governance.stores.seeding import read_manifest
    from governance.stores.store import CaseStore
    from governance.stores.synthetic import generate_store

    store = CaseStore.open(StoreConfig("bench", url, "reference"))
    existing = read_manifest(store)
    if existing is not None and existing["families"] == size:
        return {"families": size, "reused": True, "generate_s": None}
    started = time.perf_counter()
    generate_store(store, open_object_store((workdir / f"objects-{size}").as_uri()), families=size, seed=SEED)
    return {"families": size, "reused": False, "generate_s": round(time.perf_counter() - started, 1)}


def compliance(size: int, url: str, rundir: Path) -> dict:
    from governance.config import StoreConfig
    from governance.sharing.compliance import detect, run_compliance
    from governance.state import state_engine
    from governance.unit import Unit
    from governance.config import Settings
    from governance.stores.seeding import read_manifest
    from governance.stores.store import CaseStore

    store = CaseStore.open(StoreConfig("bench", url, "reference"))
    manifest = read_manifest(store)
    as_of = date.fromisoformat(manifest["as_of"])
    settings = Settings(home=rundir, stores=(StoreConfig("bench", url),), ledger_url=f"sqlite:///{rundir / 'ledger.db'}",
                        objects_url=(rundir / "objects").as_uri(), keys_dir=rundir / "keys")
    state_engine(settings)  # the state tables made before the clock starts
    t0 = time.perf_counter()
    detection = detect(store, as_of=as_of)
    detect_s = time.perf_counter() - t0
    timings = []
    results = []
    for run in ("run-1", "run-2"):
        with Unit.open(settings) as unit:
            unit.ledger  # opened (and migrated) before the clock starts, as before
            t0 = time.perf_counter()
            results.append(run_compliance(store, unit=unit, as_of=as_of, run_id=run, actor="bench",
                                          at=datetime.now(timezone.utc)))
            unit.ledger.checkpoint()
            timings.append(time.perf_counter() - t0)
    counts = store.counts()
    return {
        "families": size,
        "backend": store.engine.dialect.name,
        "rows": {e: counts[e] for e in ("case", "casenote", "consent", "sharing_record", "access_log")},
        "findings": len(detection.detected),
        "detect_s": round(detect_s, 2),
        "first_run_s": round(timings[0], 2),
        "second_run_s": round(timings[1], 2),
        "new_on_second_run": results[1]["new"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,10000,20000", help="comma-separated family counts")
    parser.add_argument("--workdir", help="keep generated stores here and reuse them (default: a temporary folder)")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server: stores go in databases sharing_bench_<size>")
    parser.add_argument("--child", choices=("generate", "compliance"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gov-sharing-bench-")).resolve()
    if args.child == "generate":
        print(json.dumps(generate(args.size, args.url, workdir)))
        return
    if args.child == "compliance":
        rundir = Path(tempfile.mkdtemp(prefix=f"run-{args.size}-", dir=workdir))
        try:
            print(json.dumps(compliance(args.size, args.url, rundir)))
        finally:
            shutil.rmtree(rundir, ignore_errors=True)
        return

    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            url = _store_url(size, workdir, args.postgres)
            made = _child("--child", "generate", "--size", str(size), "--url", url, "--workdir", str(workdir))
            ran = _child("--child", "compliance", "--size", str(size), "--url", url, "--workdir", str(workdir))
            results.append({**ran, "generate_s": made["generate_s"], "store_reused": made["reused"]})
            r = results[-1]
            print(f"sharing {size:>6} families ({r['backend']}): detect {r['detect_s']}s, first run {r['first_run_s']}s, "
                  f"second run {r['second_run_s']}s, {r['findings']} findings, peak {r['peak_rss_mb']} MB "
                  f"(generation {str(r['generate_s']) + 's' if r['generate_s'] is not None else 'reused'})", file=sys.stderr)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({"benchmark": "sharing_compliance", "results": results}))


if __name__ == "__main__":
    main()
