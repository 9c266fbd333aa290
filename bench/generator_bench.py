"""Benchmark the synthetic generator: families/s and peak memory at several sizes.

    python bench/generator_bench.py --sizes 1000,5000,10000

Each size runs in a fresh process (so peak RSS is that size's own) against a
fresh SQLite store and local object folder under a temporary directory.
Target (issue 2): 10,000 families in under a minute on the 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(families: int, seed: int, workdir: Path) -> dict:
    from governance.config import StoreConfig
    from governance.storage import open_object_store
    from governance.stores.store import CaseStore
    from governance.stores.synthetic import generate_store

    store = CaseStore.open(StoreConfig("bench", f"sqlite:///{workdir / 'store.db'}", "reference"))
    objects = open_object_store((workdir / "objects").as_uri())
    started = time.perf_counter()
    result = generate_store(store, objects, families=families, seed=seed)
    elapsed = time.perf_counter() - started
    rows = sum(result.counts.values())
    return {
        "families": families,
        "seconds": round(elapsed, 2),
        "families_per_s": round(families / elapsed),
        "rows": rows,
        "rows_per_s": round(rows / elapsed),
        "documents": result.objects,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,10000", help="comma-separated family counts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one, args.seed, Path(args.workdir))))
        return
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="gov-bench-") as tmp:
            out = subprocess.run([sys.executable, __file__, "--one", str(size), "--seed", str(args.seed), "--workdir", tmp],
                                 check=True, capture_output=True, text=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"generator {size:>7} families: {results[-1]['seconds']:>6}s  "
                  f"{results[-1]['families_per_s']:>5} families/s  {results[-1]['rows_per_s']:>7} rows/s  "
                  f"peak {results[-1]['peak_rss_mb']} MB", file=sys.stderr)
    print(json.dumps({"benchmark": "generator", "results": results}))


if __name__ == "__main__":
    main()
