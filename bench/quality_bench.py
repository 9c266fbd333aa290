"""Benchmark data-quality validation: wall time and peak memory at several store sizes.

    python bench/quality_bench.py --sizes 9000,45000,90000            # families (SQLite)
    python bench/quality_bench.py --sizes 90000 --postgres URL        # same store, copied to PostgreSQL

About 11 casenotes per family: 90,000 families is a store of about 1,000,000
casenotes. Generating a store takes minutes, so each size is generated once
into a cache folder (``--cache``, default ``/tmp/governance-quality-bench``) and
reused; generation time is reported separately from validation time. Each
validation runs in a fresh process, so its peak RSS is its own. The validated
run is the real one: every suite in expectations/, through Great Expectations'
SQL datasource, plus the quarantine sync and the ledger entries; the Data Docs
site is built and published to a local object folder.

Targets (issue 4): 1,000,000 casenotes validated in under 60 s, under 1 GB peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def generate(families: int, seed: int, cache: Path) -> dict:
    """Generate (once) a reference SQLite store of ``families`` families; return its size and timing."""
    from governance.config import StoreConfig
    from governance.storage import open_object_store
    from governance.stores.seeding import read_manifest
    from governance.stores.store import CaseStore
    from governance.stores.synthetic import generate_store

    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"reference-f{families}-s{seed}.db"
    store = CaseStore.open(StoreConfig("bench", f"sqlite:///{path}", "reference"))
    sidecar = path.with_suffix(".timing.json")
    manifest = read_manifest(store) if path.exists() else None
    if manifest is not None:
        seconds = json.loads(sidecar.read_text())["generated_seconds"] if sidecar.exists() else None
        return {"families": families, "path": str(path), "generated_seconds": seconds, "counts": manifest["counts"]}
    path.unlink(missing_ok=True)
    store = CaseStore.open(StoreConfig("bench", f"sqlite:///{path}", "reference"))
    with tempfile.TemporaryDirectory(prefix="gov-bench-objects-") as objects_dir:
        started = time.perf_counter()
        result = generate_store(store, open_object_store(Path(objects_dir).as_uri()), families=families, seed=seed)
        elapsed = time.perf_counter() - started
    sidecar.write_text(json.dumps({"generated_seconds": round(elapsed, 1)}))
    return {"families": families, "path": str(path), "generated_seconds": round(elapsed, 1), "counts": result.counts}


def copy_to_postgres(source: Path, admin_url: str, families: int, seed: int) -> dict:
    """Copy a cached SQLite store into its own PostgreSQL database (once); return its URL and timing."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from governance.stores.mapping import load_mapping
    from governance.stores.store import CaseStore

    name = f"gov_quality_bench_f{families}_s{seed}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    mapping = load_mapping("reference")
    target = CaseStore("bench", mapping, sa.create_engine(url))
    if exists and sa.inspect(target.engine).has_table("governance_copied"):
        return {"url": url, "copied_seconds": None}
    started = time.perf_counter()
    target.metadata.drop_all(target.engine)
    target.create_schema()
    origin = CaseStore("bench", mapping, sa.create_engine(f"sqlite:///{source}"))
    with origin.engine.connect() as read, target.engine.begin() as write:
        for entity in mapping.entities:
            table = origin.table(entity)
            result = read.execution_options(stream_results=True, yield_per=20_000).execute(sa.select(table))
            for chunk in result.mappings().partitions():
                write.execute(target.table(entity).insert(), [dict(row) for row in chunk])
        write.execute(sa.text("CREATE TABLE governance_copied (done integer)"))
    with target.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    target.engine.dispose()
    return {"url": url, "copied_seconds": round(time.perf_counter() - started, 1)}


def one_run(url: str, workdir: Path, as_of: date) -> dict:
    """Validate the store at ``url`` with a fresh ledger, state and object folder under ``workdir``."""
    from datetime import datetime, timezone

    from governance.config import Settings, StoreConfig
    from governance.quality.options import QualityOptions
    from governance.quality.service import run_store

    settings = Settings(home=workdir, stores=(StoreConfig("bench", url, "reference"),),
                        ledger_url=f"sqlite:///{workdir / 'ledger.db'}", objects_url=(workdir / "objects").as_uri(),
                        keys_dir=workdir / "keys")
    started = time.perf_counter()
    import great_expectations  # noqa: F401 - timed separately: a fixed cost of every run

    imported = time.perf_counter()
    summary = run_store(settings, "bench", QualityOptions(as_of=as_of), run_id="bench", actor="bench",
                        at=datetime.now(timezone.utc))
    finished = time.perf_counter()
    return {
        "gx_import_seconds": round(imported - started, 1),
        "run_seconds": round(finished - imported, 1),
        "seconds": round(finished - started, 1),
        "peak_rss_mb": _peak_mb(),
        "passed": summary["passed"],
        "rules_failed": summary["counts"]["rules_failed"],
        "failing_rows": summary["counts"]["failing_rows"],
        "quarantined": summary["counts"]["quarantined_new"],
        "data_docs_files": summary.get("data_docs_files"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="9300,46500,93000", help="comma-separated family counts (default: ~100k, 500k, 1M casenotes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "governance-quality-bench")
    parser.add_argument("--postgres", default=None, help="also validate a copy in PostgreSQL (admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30), help="the generator's as-of date")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, Path(args.workdir), args.as_of)))
        return
    results = []
    for families in (int(s) for s in args.sizes.split(",")):
        store = generate(families, args.seed, args.cache)
        targets = [("sqlite", f"sqlite:///{store['path']}", None)]
        if args.postgres:
            copied = copy_to_postgres(Path(store["path"]), args.postgres, families, args.seed)
            targets.append(("postgresql", copied["url"], copied["copied_seconds"]))
        for backend, url, copied_seconds in targets:
            with tempfile.TemporaryDirectory(prefix="gov-quality-bench-") as tmp:
                out = subprocess.run([sys.executable, __file__, "--one", url, "--workdir", tmp, "--as-of", args.as_of.isoformat()],
                                     check=True, capture_output=True, text=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            row = {"backend": backend, "families": families, "casenotes": store["counts"]["casenote"],
                   "rows": sum(store["counts"].values()), "generated_seconds": store["generated_seconds"],
                   "copied_seconds": copied_seconds, **run}
            results.append(row)
            print(f"quality {backend:>10} {row['casenotes']:>9,} casenotes ({row['rows']:,} rows): "
                  f"{row['seconds']:>5}s (GX import {row['gx_import_seconds']}s, run {row['run_seconds']}s), "
                  f"peak {row['peak_rss_mb']} MB, {row['failing_rows']} failing rows", file=sys.stderr)
    print(json.dumps({"benchmark": "quality", "results": results}))


if __name__ == "__main__":
    main()
