#!/usr/bin/env python
"""Benchmark the audit ledger: append rate, verify rate (chain, tree, signatures), proofs, memory.

Usage::

    .venv/bin/python bench/ledger_bench.py --entries 1000000
    .venv/bin/python bench/ledger_bench.py --entries 100000 --url postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/ledger_bench.py --entries 100000 --bundle     # also export + verify_bundle

The ledger grows to each size in ``--sizes`` (capped by ``--entries``) using
``append_many`` in batches (as a destruction job does per chunk); at each size
it runs a full :meth:`Ledger.verify` ``--repeat`` times as shipped (several
processes from 200,000 entries: governance/ledger/parallel.py) and as many
times in one process, and shows the medians; CPU time includes the helper
processes, so it is the total work. A sample of single ``append`` calls (one
transaction each) is timed first. Wall time and process CPU time are both shown:
on a shared machine CPU time is the steadier figure. Peak memory is
``ru_maxrss`` so far, which stays flat if verification really streams.
At the largest size it also times ``--proofs`` inclusion proofs of random
entries against the newest signed tree head: generation from the database
(stored node cache + entry hashes, each proof checked against the signed root)
and offline verification (RFC 9162 §2.1.3.2), per proof.

Prints a table, then one JSON line with every figure. Entries are synthetic
identifiers only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import random  # noqa: E402

from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger, verify_bundle  # noqa: E402
from governance.ledger.merkle import verify_inclusion  # noqa: E402
from governance.ledger.parallel import PROCESSES_ENV, processes_for  # noqa: E402
from governance.ledger.proofs import TreeReader  # noqa: E402


def _event(i: int) -> dict[str, Any]:
    return {
        "actor": "retention-job",
        "action": "record.destroyed",
        "rule": "CS-25Y-after-18",
        "store": "default",
        "record_ids": [f"case-{i:09d}"],
        "counts": {"records": 1, "objects": 2},
        "details": {"object_key": f"cases/{i:09d}/file.pdf", "sha256": f"{i:064x}", "chunk": f"chunk-{i // 1000}"},
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (verification forks helpers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    return result, time.perf_counter() - wall, _cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="largest ledger size (default 1,000,000)")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="sizes to verify at (comma-separated)")
    parser.add_argument("--url", help="ledger database (must be empty); default a new SQLite file in a temp folder")
    parser.add_argument("--batch", type=int, default=10_000, help="entries per append_many call")
    parser.add_argument("--single", type=int, default=2_000, help="single appends to time first")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument("--bundle", action="store_true", help="also time export and verify_bundle at each size")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (SQLite file, bundles) afterwards")
    parser.add_argument("--proofs", type=int, default=1000, help="inclusion proofs to time at the largest size")
    parser.add_argument("--repeat", type=int, default=3, help="verifications per size and mode; the median is shown")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    url = args.url or f"sqlite:///{work / 'ledger.db'}"
    ledger = Ledger.open(url, KeyStore(work / "keys"), checkpoint_every=args.checkpoint_every)
    if ledger.head() is not None:
        print("ledger_bench: the ledger at --url must be empty", file=sys.stderr)
        return 2
    sizes = sorted({min(int(s), args.entries) for s in args.sizes.split(",") if s.strip()} | {args.entries})

    single = min(args.single, sizes[0])
    _, wall, cpu = _timed(lambda: [ledger.append(**_event(i)) for i in range(single)])
    result: dict[str, Any] = {
        "url": "sqlite (temp file)" if not args.url else ledger.engine.url.render_as_string(hide_password=True),
        "python": sys.version.split()[0], "cpus": os.cpu_count(), "batch": args.batch,
        "single_append": {"entries": single, "per_s": round(single / wall), "cpu_s": round(cpu, 2),
                          "per_cpu_s": round(single / cpu) if cpu else None},
        "sizes": [],
    }
    done = single
    for size in sizes:
        append_wall = append_cpu = 0.0
        grow = size - done
        while done < size:
            n = min(args.batch, size - done)
            start = done
            _, wall, cpu = _timed(lambda: ledger.append_many([_event(i) for i in range(start, start + n)]))
            append_wall, append_cpu, done = append_wall + wall, append_cpu + cpu, done + n
        ledger.checkpoint()
        v_wall, v_cpu, processes = _verify_median(ledger, size, args.repeat, None)
        one_wall, one_cpu, _ = _verify_median(ledger, size, args.repeat, "1")
        row: dict[str, Any] = {
            "entries": size,
            "append_per_s": round(grow / append_wall) if grow else None,
            "append_per_cpu_s": round(grow / append_cpu) if grow and append_cpu else None,
            "verify_s": round(v_wall, 2), "verify_cpu_s": round(v_cpu, 2),
            "verify_per_s": round(size / v_wall), "verify_processes": processes,
            "verify_1p_s": round(one_wall, 2), "verify_1p_cpu_s": round(one_cpu, 2),
            "peak_rss_mb": round(_peak_mb(), 1),
        }
        if not args.url:
            row["db_mb"] = round((work / "ledger.db").stat().st_size / 2**20, 1)
        if args.bundle:
            target = work / f"bundle-{size}"
            _, e_wall, _ = _timed(lambda: ledger.export(target))
            checked, b_wall, b_cpu = _timed(lambda: verify_bundle(target))
            assert checked.ok, checked
            row.update(export_s=round(e_wall, 2), bundle_verify_s=round(b_wall, 2), bundle_verify_cpu_s=round(b_cpu, 2))
        result["sizes"].append(row)
        print(f"... {size:,} entries done", file=sys.stderr, flush=True)
    result["proofs"] = _time_proofs(ledger, args.proofs)
    ledger.close()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    print(f"single append (own transaction each): {result['single_append']['per_s']:,}/s "
          f"({result['single_append']['per_cpu_s']:,} per CPU second) over {single:,} entries")
    columns = ["entries", "append_per_s", "append_per_cpu_s", "verify_s", "verify_cpu_s", "verify_processes",
               "verify_1p_s", "verify_1p_cpu_s", "peak_rss_mb"]
    columns += [c for c in ("db_mb", "export_s", "bundle_verify_s", "bundle_verify_cpu_s") if c in result["sizes"][0]]
    print(" | ".join(f"{c:>14}" for c in columns))
    for row in result["sizes"]:
        print(" | ".join(f"{row.get(c) if row.get(c) is not None else '-':>14,}" if isinstance(row.get(c), int)
                         else f"{str(row.get(c, '-')):>14}" for c in columns))
    p = result["proofs"]
    print(f"inclusion proofs ({p['count']} random entries, tree size {p['tree_size']:,}): "
          f"generate {p['generate_ms']} ms/proof ({p['generate_cpu_ms']} ms CPU), verify {p['verify_ms']} ms/proof")
    print(json.dumps(result, sort_keys=True))
    return 0


def _verify_median(ledger: Ledger, size: int, repeat: int, processes: str | None) -> tuple[float, float, int]:
    """Median wall and CPU (children included) of ``repeat`` full verifications; the processes used.

    ``processes`` None is the shipped default (several processes from PARALLEL_FROM
    entries); "1" forces the one-process pass.
    """
    saved = os.environ.pop(PROCESSES_ENV, None)
    if processes is not None:
        os.environ[PROCESSES_ENV] = processes
    try:
        used = processes_for(size)
        runs = []
        for _ in range(max(1, repeat)):
            report, wall, cpu = _timed(ledger.verify)
            assert report.ok and report.entries == size, report
            runs.append((wall, cpu))
    finally:
        os.environ.pop(PROCESSES_ENV, None)
        if saved is not None:
            os.environ[PROCESSES_ENV] = saved
    walls, cpus = sorted(w for w, _ in runs), sorted(c for _, c in runs)
    return walls[len(walls) // 2], cpus[len(cpus) // 2], used


def _time_proofs(ledger: Ledger, count: int) -> dict[str, Any]:
    """Per-proof time to build (from the database) and to verify (offline) inclusion proofs."""
    rng = random.Random(13)
    with ledger.snapshot() as conn:
        head = ledger.checkpoints(conn)[-1]
        root = bytes.fromhex(head.root)
        picks = [rng.randrange(head.size) for _ in range(count)]
        started, cpu = time.perf_counter(), time.process_time()
        proofs = []
        for index in picks:
            reader = TreeReader(conn)  # a fresh reader per proof: no memo shared between proofs
            proofs.append((index, reader.leaves(index, index + 1)[0], reader.inclusion(index, head.size, root)))
        generate, generate_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    for index, leaf, path in proofs:
        assert verify_inclusion(leaf, index, head.size, path, root)
    verify = time.perf_counter() - started
    return {"count": count, "tree_size": head.size, "generate_ms": round(generate / count * 1000, 3),
            "generate_cpu_ms": round(generate_cpu / count * 1000, 3),
            "verify_ms": round(verify / count * 1000, 4)}


if __name__ == "__main__":
    sys.exit(main())
