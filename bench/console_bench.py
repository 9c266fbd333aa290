"""Benchmark the governance console's pages on a large store: every page must answer in under 300 ms.

    python bench/console_bench.py                                   # 20,000 families, 15 rounds
    python bench/console_bench.py --families 20000 --workdir /tmp/console-bench   # keep the store for reruns
    python bench/console_bench.py --families 2000 --rounds 5        # a quick look

The store is the console tests' scenario (tests/console/scenario.py) at the
given size: generated families plus canaries, a data-quality run, sharing
findings, one certified retention batch, one awaiting review, a hold and an
access request searched and redacted. Building it is not timed.

Pages are requested in-process through the console's FastAPI app mounted at
/governance, as the API server mounts it, with a real SimpleAuthManager JWT
per role (so authorisation is inside the timing). Reported per page: the first
request (cold: imports, caches empty; the retention forecast and tombstone
scan run; a request's pages build its working set, every person in the store
read to find those its texts name) and the median, 95th percentile and maximum of the rounds after it
(warm: what a user moving between pages sees). The forecast, tombstone matches
and ledger verification are cached per ledger head (recomputed when the ledger
moves, and after 10 min / 10 min / 1 min); the "after a change" row measures
the retention page right after a hold is placed: it shows the last forecast,
marked, while a background thread recomputes it (timed separately below); so
does a request's page (its pack is kept per request state and ledger head).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))

TARGET_MS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the store here")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="console-bench-"))
    home = work / f"var-{args.families}"
    airflow_home = work / "airflow"
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update({"AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
                       "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json")})
    from tests.console.scenario import build

    if not (home / "ledger.db").exists():
        started = time.monotonic()
        print(f"building the scenario store: {args.families} families (not timed)...", flush=True)
        built = build(home, families=args.families)
        print(f"  built in {time.monotonic() - started:.0f}s: {built.counts}", flush=True)

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.db import initdb

    initdb()
    manager = create_auth_manager()
    manager.init()
    from governance_airflow.console import context as console_context
    from governance_airflow.console.app import create_app
    from tests.console.scenario import make_settings

    console_context.use_settings(make_settings(home))
    parent = FastAPI()
    parent.mount("/governance", create_app())
    client = TestClient(parent)

    def auth(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role))}"}

    ig, records, auditor = auth("admin"), auth("user"), auth("viewer")
    request_id = "sar-console-0001"
    pages = [
        ("overview", "/governance/overview", ig),
        ("retention", "/governance/retention", ig),
        ("retention (auditor)", "/governance/retention", auditor),
        ("access requests", "/governance/requests", records),
        ("a request", f"/governance/requests/{request_id}", records),
        ("a request's preview", f"/governance/requests/{request_id}/preview", records),
        ("ledger", "/governance/ledger", auditor),
        ("ledger, filtered", "/governance/ledger?action=retention.destroyed&since=2026-01-01", auditor),
        ("quality and sharing", "/governance/quality", ig),
        ("data docs pages", "/governance/quality/datadocs/default/", ig),
    ]
    print(f"\n{args.families} families; {args.rounds} warm rounds per page; target {TARGET_MS:.0f} ms\n")
    print(f"{'page':24} {'cold ms':>9} {'median':>8} {'p95':>8} {'max':>8}  status")
    worst = 0.0
    ready: dict[str, float] = {}  # page -> ms from its first view until its pack was shown (built behind)
    for name, url, headers in pages:
        t0 = time.perf_counter()
        response = client.get(url, headers=headers)
        cold = (time.perf_counter() - t0) * 1000
        assert response.status_code == 200, (name, response.status_code, response.text[-300:])
        if 'id="pack-pending"' in response.text:
            # A request's pack not built yet: the page answered "being prepared" at once (that is the
            # cold figure); wait, untimed by the rounds, until its background build is shown.
            while 'id="pack-pending"' in client.get(url, headers=headers).text:
                time.sleep(0.1)
            ready[name] = (time.perf_counter() - t0) * 1000
        if name == "overview":
            # The Overview starts the forecast and tombstone scan in the background; let them finish
            # (untimed) so the rounds below measure pages, not a neighbour's 10-second computation.
            from governance_airflow.console import context as console_context
            from governance_airflow.console.services import retention as retention_service

            retention_service.forecast(console_context.settings(), "default", console_context.today())
            retention_service.tombstone_matches(console_context.settings(), "default")
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            client.get(url, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        worst = max(worst, statistics.median(times))
        print(f"{name:24} {cold:9.0f} {statistics.median(times):8.0f} {p95:8.0f} {times[-1]:8.0f}  "
              f"{'ok' if statistics.median(times) < TARGET_MS else 'SLOW'}"
              + (f"  (cold view said 'being prepared'; pack shown after {ready[name]:.0f} ms)" if name in ready else ""),
              flush=True)

    # After a change: a hold placed (ledger moves), then the retention page recomputes its forecast.
    import sqlite3

    with sqlite3.connect(home / "stores" / "default.db") as db:  # a case still held in the store (not destroyed)
        case_id = db.execute("SELECT case_id FROM cases ORDER BY case_id LIMIT 1 OFFSET 100").fetchone()[0]
    form = {"kind": "other", "source": "benchmark", "reason": "benchmark hold", "placed_on": "2026-12-01",
            "review_on": "2027-12-01", "store": "default", "case_ids": case_id}
    t0 = time.perf_counter()
    placed = client.post("/governance/retention/holds", data=form, headers=ig, follow_redirects=False)
    post_ms = (time.perf_counter() - t0) * 1000
    assert placed.status_code == 303, placed.text[-300:]
    t0 = time.perf_counter()
    client.get("/governance/retention", headers=ig)
    after = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    client.get(f"/governance/requests/{request_id}", headers=records)
    request_after = (time.perf_counter() - t0) * 1000
    print(f"{'place a hold (POST)':24} {post_ms:9.0f}")
    print(f"{'retention after a change':24} {after:9.0f}   (last forecast shown, marked; recomputed in the background)")
    print(f"{'a request after a change':24} {request_after:9.0f}   (last pack shown, marked; recomputed in the background)")
    from governance_airflow.console import context
    from governance_airflow.console.services import requests as request_service, retention

    settings = context.settings()
    t0 = time.perf_counter()
    retention._forecast_now(settings, "default", context.today())
    forecast_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    retention._tombstones_now(settings, "default")
    tomb_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    request_service._pack_now(settings, request_id, context.today(), False, True)
    pack_ms = (time.perf_counter() - t0) * 1000
    print(f"{'forecast, computed':24} {forecast_ms:9.0f}   (every case decided; background, once per ledger head)")
    print(f"{'request pack, built':24} {pack_ms:9.0f}   (every person read; per request state, else background)")
    print(f"{'tombstone scan':24} {tomb_ms:9.0f}   (background, once per ledger head)")
    print(f"\nworst warm median: {worst:.0f} ms ({'within' if worst < TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
