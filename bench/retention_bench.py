"""Benchmark the retention sweep against a per-record ORM loop and a bare bulk DELETE.

    python bench/retention_bench.py --sizes 5000,10000,20000

For each size a store is generated once (cached under --cache), then copied
fresh for each method, each run in its own process (so peak RSS is its own):

- ``platform``: plan, batch, approve, execute in chunks (eligibility re-checked,
  intent/complete with the ledger, every object version deleted), as shipped;
- ``orm_loop``: (a) the same cases deleted one ORM object at a time, a commit per
  case, no checks, no ledger, no objects: what a naive script does;
- ``bulk_delete``: (b) hand-written DELETE ... WHERE case_id IN (...) over the same
  cases, one transaction, no checks, no ledger, no objects: the floor.

All three delete the same rows. Throughput is rows deleted per second of the
deletion phase; the ORM loop runs on a sample of --orm-sample cases (a rate,
so a sample is fair) to keep the benchmark short. Targets (issue 3): platform
within 2x of bulk_delete, at least 20x faster than orm_loop, peak memory flat
from 5,000 to 20,000 families.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

AS_OF = date(2026, 6, 30)
TABLES = (("casenotes", "case_id"), ("documents", "case_id"), ("sharing_records", "case_id"),
          ("file_access_log", "case_id"), ("case_members", "case_id"))


def _settings(home: Path):
    from governance.config import Settings

    return Settings.from_env({"GOVERNANCE_HOME": str(home)})


def _due_ids(home: Path) -> list[str]:
    from governance.retention.context import RetentionContext
    from governance.retention.plan import build_plan

    with RetentionContext.open(_settings(home)) as ctx:
        return sorted(d.case_id for d in build_plan(ctx.store, ctx.state, ctx.schedule, AS_OF).due)


def _rows_of(home: Path, ids: list[str]) -> int:
    import sqlite3

    conn = sqlite3.connect(home / "stores" / "default.db")
    total = len(ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for table, column in TABLES:
            total += conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})", chunk).fetchone()[0]
        total += conn.execute(f"SELECT count(*) FROM consents WHERE case_id IN ({marks})", chunk).fetchone()[0]
    conn.close()
    return total


def run_platform(home: Path) -> dict:
    from governance.jobs import retention as jobs

    settings = _settings(home)
    t0 = time.perf_counter()
    plan = jobs.plan(settings, "default", as_of=AS_OF, list_cases=False)
    plan_s = time.perf_counter() - t0
    ids = _due_ids(home)
    rows = _rows_of(home, ids)
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="bench.alice")
    jobs.approve(settings, proposed["batch_id"], approved_by="bench.bob")
    t0 = time.perf_counter()
    executed = jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="bench.bob")
    execute_s = time.perf_counter() - t0
    verified = jobs.verify(settings, proposed["batch_id"], actor="bench.bob")
    assert verified["ok"]
    objects_s = executed["seconds_objects"]
    rows_s = execute_s - objects_s
    return {"cases_in_store": plan["counts"]["cases"], "plan_s": round(plan_s, 3), "cases": executed["cases"],
            "rows": rows, "objects": executed["object_versions"], "delete_s": round(execute_s, 3),
            "objects_s": round(objects_s, 3), "rows_phase_s": round(rows_s, 3),
            "rows_per_s": round(rows / execute_s), "rows_per_s_rows_phase": round(rows / rows_s)}


def run_bulk_delete(home: Path) -> dict:
    import sqlite3

    ids = _due_ids(home)
    rows = _rows_of(home, ids)
    conn = sqlite3.connect(home / "stores" / "default.db")
    t0 = time.perf_counter()
    with conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for table, column in TABLES:
                conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
            conn.execute(f"DELETE FROM consent_opt_outs WHERE consent_id IN (SELECT consent_id FROM consents WHERE case_id IN ({marks}))", chunk)
            conn.execute(f"DELETE FROM consents WHERE case_id IN ({marks})", chunk)
            conn.execute(f"DELETE FROM cases WHERE case_id IN ({marks})", chunk)
    elapsed = time.perf_counter() - t0
    return {"cases": len(ids), "rows": rows, "delete_s": round(elapsed, 3), "rows_per_s": round(rows / elapsed)}


def run_orm_loop(home: Path, sample: int) -> dict:
    import sqlalchemy as sa
    from sqlalchemy.ext.automap import automap_base
    from sqlalchemy.orm import Session

    ids = _due_ids(home)[:sample]
    rows = _rows_of(home, ids)
    engine = sa.create_engine(f"sqlite:///{home / 'stores' / 'default.db'}")
    base = automap_base()
    base.prepare(autoload_with=engine)
    m = base.classes
    children = [(m.casenotes, "case_id"), (m.documents, "case_id"), (m.sharing_records, "case_id"),
                (m.file_access_log, "case_id"), (m.case_members, "case_id")]
    t0 = time.perf_counter()
    with Session(engine) as session:
        for case_id in ids:
            for cls, column in children:
                for obj in session.scalars(sa.select(cls).where(getattr(cls, column) == case_id)):
                    session.delete(obj)
            for consent in session.scalars(sa.select(m.consents).where(m.consents.case_id == case_id)):
                for opt_out in session.scalars(sa.select(m.consent_opt_outs).where(m.consent_opt_outs.consent_id == consent.consent_id)):
                    session.delete(opt_out)
                session.delete(consent)
            session.delete(session.get(m.cases, case_id))
            session.commit()
    elapsed = time.perf_counter() - t0
    return {"cases": len(ids), "rows": rows, "delete_s": round(elapsed, 3), "rows_per_s": round(rows / elapsed)}


def _one(method: str, home: Path, sample: int) -> None:
    result = {"platform": lambda: run_platform(home), "bulk_delete": lambda: run_bulk_delete(home),
              "orm_loop": lambda: run_orm_loop(home, sample)}[method]()
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


def _prepare(cache: Path, families: int) -> Path:
    pristine = cache / f"families-{families}" / "var"
    if not (pristine / "stores" / "default.db").exists():
        from governance.stores.seeding import seed_store

        shutil.rmtree(pristine.parent, ignore_errors=True)
        t0 = time.perf_counter()
        seed_store(_settings(pristine), "default", families=families, seed=17)
        print(f"generated {families} families in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return pristine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,10000,20000")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/governance-retention-bench"))
    parser.add_argument("--orm-sample", type=int, default=400)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.home, args.orm_sample)
        return
    results = []
    for families in (int(s) for s in args.sizes.split(",")):
        pristine = _prepare(args.cache, families)
        row = {"families": families}
        for method in ("platform", "bulk_delete", "orm_loop"):
            work = args.cache / "work" / "var"
            shutil.rmtree(work.parent, ignore_errors=True)
            shutil.copytree(pristine, work)
            out = subprocess.run([sys.executable, __file__, "--one", method, "--home", str(work),
                                  "--orm-sample", str(args.orm_sample)], check=True, capture_output=True, text=True)
            row[method] = json.loads(out.stdout.strip().splitlines()[-1])
        p, b, o = row["platform"], row["bulk_delete"], row["orm_loop"]
        row["platform_vs_bulk"] = round(b["rows_per_s"] / p["rows_per_s"], 2)
        row["platform_vs_orm"] = round(p["rows_per_s"] / o["rows_per_s"], 1)
        row["rows_phase_vs_bulk"] = round(b["rows_per_s"] / p["rows_per_s_rows_phase"], 2)
        row["rows_phase_vs_orm"] = round(p["rows_per_s_rows_phase"] / o["rows_per_s"], 1)
        results.append(row)
        print(f"{families:>6} families: plan {p['plan_s']}s over {p['cases_in_store']} cases; "
              f"destroy {p['cases']} cases / {p['rows']} rows / {p['objects']} objects in {p['delete_s']}s "
              f"= {p['rows_per_s']} rows/s (rows phase {p['rows_per_s_rows_phase']} rows/s, objects {p['objects_s']}s), "
              f"peak {p['peak_rss_mb']} MB | bulk DELETE {b['rows_per_s']} rows/s "
              f"(platform {row['platform_vs_bulk']}x slower; rows phase {row['rows_phase_vs_bulk']}x) | "
              f"ORM loop {o['rows_per_s']} rows/s (platform {row['platform_vs_orm']}x faster; "
              f"rows phase {row['rows_phase_vs_orm']}x)", file=sys.stderr)
    print(json.dumps({"benchmark": "retention", "results": results}))


if __name__ == "__main__":
    main()
