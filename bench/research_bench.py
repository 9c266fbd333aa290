#!/usr/bin/env python
"""Benchmark research extracts: pseudonymise, generalise, k/l-check (and write encrypted Parquet).

    .venv/bin/python bench/research_bench.py                       # 100k, 500k, 1M rows; both implementations
    .venv/bin/python bench/research_bench.py --sizes 1000000 --impls streamed

Two implementations over the same synthetic input, each size in a fresh
process (so peak RSS is that run's own):

- ``streamed``: the platform's own code path (:class:`ExtractPipeline`,
  :class:`DisclosureCheck`, :class:`PartWriter` into a local object folder):
  batches of 50,000 rows, vectorised Arrow compute, HMAC once per distinct
  identifier per batch, encrypted Parquet parts. Memory bounded by the batch.
- ``pandas``: the straightforward version: read every row into one DataFrame,
  ``map`` an HMAC over each identifier, ``dt``/``str`` accessors, ``groupby``
  ``nunique`` for k and l, ``to_parquet`` and AES-GCM over the whole file.

Input rows are built in the benchmark (not by generating families): fictional
values in the synthetic generator's formats (person ids ``P000000123``,
postcodes in the Q/V/X areas no UK postcode uses), grouped by person as the
store query returns them, about 1.5 rows (episodes) per person. Generating the
input is timed separately and included in both totals. Both implementations
must agree on the disclosure result (classes, persons, failing classes); the
parent process checks it. Targets (issue 6): 1,000,000 rows in under 20 s
and 1.5 GB peak. Prints a table on stderr and one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

AS_OF = date(2026, 6, 30)
BATCH_ROWS = 50_000
KEY = bytes(range(32))
SPEC: dict[str, Any] = {
    "id": "BENCH", "title": "bench", "purpose": "bench", "recipient": "bench", "start": "2026-01-01",
    "end": "2026-12-31", "end_action": "destroy",
    "extract": {
        "fields": ["person_id", "family_id", "case_id", "date_of_birth", "postcode", "case_type", "opened_on",
                   "child_protection_concerns", "casenote_count"],
        "quasi_identifiers": ["date_of_birth", "postcode"], "sensitive": ["case_type"], "k": 10, "l": 2,
        "generalise": {"date_of_birth": "age_band:5:90", "postcode": "district", "opened_on": "month"},
    },
}
_AREAS = pa.array(["QA", "QE", "VA", "VN", "XL", "XR"])
_LETTERS = pa.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_TYPES = pa.array(["early_help", "child_in_need", "child_protection", "looked_after", "adoption"])
_EPOCH = date(1970, 1, 1)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()),
                                                                        width, "0"), "")


def _days(first: date, last: date, n: int, rng: np.random.Generator) -> pa.Array:
    low, high = (first - _EPOCH).days, (last - _EPOCH).days
    return pa.array(rng.integers(low, high, n).astype(np.int32), pa.int32()).cast(pa.date32())


def synthetic_rows(rows: int, seed: int = 1) -> Iterator[pa.Table]:
    """``rows`` population rows in batches, grouped by person; deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    person, done = 0, 0
    while done < rows:
        n = min(BATCH_ROWS, rows - done)
        owners = np.repeat(np.arange(person, person + n), rng.choice([1, 1, 2, 3], size=n))  # rows per person
        if done + n < rows and len(owners) > n and owners[n] == owners[n - 1]:
            owners = owners[: np.searchsorted(owners[:n], owners[n - 1])]  # whole persons per batch, as the store
        else:
            owners = owners[:n]
        n = len(owners)
        person = int(owners[-1]) + 1
        family = owners * 2 // 5  # about 2.5 children per household
        district = rng.integers(1, 20, n)
        postcode = pc.binary_join_element_wise(
            _AREAS.take(pa.array(family % 6)), pc.cast(pa.array((family % 19) + 1), pa.string()), pa.scalar(" "),
            pc.cast(pa.array(district % 10), pa.string()), _LETTERS.take(pa.array(family % 20)),
            _LETTERS.take(pa.array((family // 20) % 20)), "")
        yield pa.table({
            "person_id": _ids("P", owners, 9),
            "family_id": _ids("F", family, 7),
            "case_id": _ids("C", np.arange(done, done + n), 9),
            "date_of_birth": _days(date(2000, 1, 1), date(2025, 12, 31), n, rng),
            "postcode": postcode,
            "case_type": _TYPES.take(pa.array(rng.integers(0, len(_TYPES), n))),
            "opened_on": _days(date(2011, 1, 1), date(2026, 6, 1), n, rng),
            "child_protection_concerns": pa.array(rng.random(n) < 0.2),
            "casenote_count": pa.array(rng.integers(0, 40, n), pa.int64()),
        })
        done += n


def _timed_input(rows: int, clock: list[float]) -> Iterator[pa.Table]:
    source = synthetic_rows(rows)
    while True:
        started = time.perf_counter()
        try:
            batch = next(source)
        except StopIteration:
            return
        finally:
            clock[0] += time.perf_counter() - started
        yield batch


def run_streamed(rows: int, workdir: Path) -> dict[str, Any]:
    from governance.research.parts import PartWriter
    from governance.research.pipeline import ExtractPipeline
    from governance.research.pseudonym import Pseudonymiser
    from governance.research.spec import parse_spec
    from governance.storage import LocalFolderStore

    spec = parse_spec(SPEC)
    pipeline = ExtractPipeline(spec.extract, Pseudonymiser(KEY, "bench"), AS_OF)
    check = pipeline.disclosure_check()
    writer = PartWriter(LocalFolderStore(workdir / "objects"), "research/BENCH/BENCH-x1", KEY, pipeline.schema,
                        record=lambda _key, _info: None)
    clock = [0.0]
    phases = {"transform": 0.0, "check": 0.0, "write": 0.0}
    for raw in _timed_input(rows, clock):
        t0 = time.perf_counter()
        batch = pipeline.transform(raw)
        t1 = time.perf_counter()
        check.add(batch)
        t2 = time.perf_counter()
        writer.write(batch)
        phases["transform"] += t1 - t0
        phases["check"] += t2 - t1
        phases["write"] += time.perf_counter() - t2
    t0 = time.perf_counter()
    parts = writer.close()
    report = check.report()
    phases["write"] += time.perf_counter() - t0
    return {"input_s": clock[0], **{f"{k}_s": v for k, v in phases.items()}, "parts": len(parts),
            **_result(report.to_dict())}


def run_pandas(rows: int, workdir: Path) -> dict[str, Any]:
    import hashlib
    import hmac

    import pandas as pd
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    clock = [0.0]
    df = pa.concat_tables(list(_timed_input(rows, clock))).to_pandas()  # every row in memory
    t0 = time.perf_counter()
    for column, entity in (("person_id", "person"), ("family_id", "family"), ("case_id", "case")):
        prefix = f"bench\x1f{entity}\x1f"
        df[column.replace("_id", "_pseudonym")] = df[column].map(
            lambda v, p=prefix: hmac.new(KEY, (p + v).encode(), hashlib.sha256).hexdigest()[:32])
    dob = pd.to_datetime(df["date_of_birth"])
    age = AS_OF.year - dob.dt.year - ((dob.dt.month > AS_OF.month)
                                      | ((dob.dt.month == AS_OF.month) & (dob.dt.day > AS_OF.day))).astype(int)
    low = age // 5 * 5
    df["age_band"] = (low.astype(str) + "-" + (low + 4).clip(upper=89).astype(str)).where(age < 90, "90+")
    df["postcode_district"] = df["postcode"].str.upper().str.strip().str.extract(
        r"^([A-Z]{1,2}[0-9][0-9A-Z]?)\s*[0-9][A-Z]{2}$", expand=False)
    df["opened_month"] = pd.to_datetime(df["opened_on"]).dt.strftime("%Y-%m")
    out = df[["person_pseudonym", "family_pseudonym", "case_pseudonym", "age_band", "postcode_district", "case_type",
              "opened_month", "child_protection_concerns", "casenote_count"]]
    t1 = time.perf_counter()
    quasi = ["age_band", "postcode_district"]
    persons = out.groupby(quasi, dropna=False)["person_pseudonym"].nunique()
    diversity = out.groupby(quasi, dropna=False)["case_type"].nunique()
    report = {"classes": int(len(persons)), "persons": int(out["person_pseudonym"].nunique()),
              "rows": int(len(out)), "smallest_class": int(persons.min()),
              "k_failing_classes": int((persons < 10).sum()), "k_failing_persons": int(persons[persons < 10].sum()),
              "l_failing_classes": {"case_type": int((diversity < 2).sum())}}
    t2 = time.perf_counter()
    data = out.to_parquet(compression="zstd")
    nonce = os.urandom(12)
    sealed = AESGCM(KEY).encrypt(nonce, data, b"research/BENCH/BENCH-x1/part-00000.parquet.enc")
    (workdir / "extract.enc").write_bytes(sealed)
    t3 = time.perf_counter()
    return {"input_s": clock[0], "transform_s": t1 - t0, "check_s": t2 - t1, "write_s": t3 - t2, "parts": 1,
            **_result(report)}


def _result(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("rows", "persons", "classes", "smallest_class", "k_failing_classes", "k_failing_persons")
    return {**{k: int(report[k]) for k in keys}, "l_failing_classes": int(sum(report["l_failing_classes"].values()))}


def one_run(impl: str, rows: int, workdir: Path) -> dict[str, Any]:
    # Libraries are loaded before the clock starts, for both implementations alike.
    if impl == "streamed":
        import governance.research.pipeline  # noqa: F401
        import governance.storage  # noqa: F401
    else:
        import pandas  # noqa: F401
    started = time.perf_counter()
    result = (run_streamed if impl == "streamed" else run_pandas)(rows, workdir)
    result["seconds"] = time.perf_counter() - started
    result = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    return {"impl": impl, "size": rows, **result,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,500000,1000000", help="comma-separated row counts")
    parser.add_argument("--impls", default="streamed,pandas", help="streamed, pandas or both")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.impl, args.one, Path(args.workdir))))
        return 0
    results, failed = [], False
    print(f"{'impl':<9} {'rows':>9} {'total s':>8} {'input':>6} {'transf':>6} {'check':>6} {'write':>6} "
          f"{'peak MB':>8} {'classes':>8} {'failing':>8}", file=sys.stderr)
    for size in (int(s) for s in args.sizes.split(",")):
        by_impl = {}
        for impl in args.impls.split(","):
            with tempfile.TemporaryDirectory(prefix="gov-research-bench-") as tmp:
                out = subprocess.run([sys.executable, __file__, "--one", str(size), "--impl", impl, "--workdir", tmp],
                                     capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            by_impl[impl] = r
            print(f"{impl:<9} {size:>9,} {r['seconds']:>8.2f} {r['input_s']:>6.2f} {r['transform_s']:>6.2f} "
                  f"{r['check_s']:>6.2f} {r['write_s']:>6.2f} {r['peak_rss_mb']:>8.1f} {r['classes']:>8} "
                  f"{r['k_failing_classes']:>8}", file=sys.stderr, flush=True)
        if len(by_impl) == 2:
            a, b = by_impl.values()
            same = all(a[k] == b[k] for k in ("rows", "persons", "classes", "smallest_class", "k_failing_classes",
                                               "k_failing_persons", "l_failing_classes"))
            failed |= not same
            print(f"{'':<9} {size:>9,} implementations agree: {same}", file=sys.stderr)
    print(json.dumps({"benchmark": "research", "batch_rows": BATCH_ROWS, "results": results, "agree": not failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
