"""Time one access request's working set (its review pack) on a large store: the store-wide people lookup.

    python bench/sar_workset_bench.py --families 20000 --workdir /tmp/sar-workset   # keep the store for reruns
    python bench/sar_workset_bench.py --families 5000 --builds 3 --profile

The store is the console benchmark's scenario (tests/console/scenario.py; the same
``--workdir`` layout, so a store built by bench/console_bench.py is reused): its
access request ``sar-console-0001`` is built ``--builds`` times, as the console
builds a pack (discovery, the people around the subject and everyone the texts
could name, every rule, the pack; in a transaction rolled back). Every memo is
emptied before each build (governance/sar/redaction/memo.py), so each is cold as
for a request not seen before; the first also pays the imports. Wall and CPU
seconds are printed (the machine is shared). ``--profile``: cProfile of one more build.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, required=True, help="the store is built (once) and kept here")
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from tests.console.scenario import build, make_settings

    home = args.workdir / f"var-{args.families}"
    if not (home / "ledger.db").exists():
        print(f"building the scenario store: {args.families} families (not timed)...", flush=True)
        build(home, families=args.families)

    from governance.keys import KeyStore
    from governance.ledger import Ledger
    from governance.sar import process
    from governance.sar.redaction.memo import forget_all
    from governance.state import state_engine
    from governance.stores.seeding import open_objects
    from governance.stores.store import CaseStore

    settings = make_settings(home)
    store, objects = CaseStore.open(settings.store("default")), open_objects(settings)
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))

    def one() -> tuple[str, int]:
        with state_engine(settings).connect() as conn:
            ws = process.build_workset(settings, conn, "sar-console-0001", store=store, objects=objects,
                                       ledger_engine=ledger.engine)
            pack = process.current_pack(conn, "sar-console-0001", ws)
            conn.rollback()
        return pack["pack_hash"], sum(len(v) for v in ws.redactions.values())

    for i in range(args.builds):
        forget_all()
        t0, c0 = time.perf_counter(), time.process_time()
        digest, count = one()
        print(f"{args.families} families, build {i + 1}: {time.perf_counter() - t0:.2f} s wall, "
              f"{time.process_time() - c0:.2f} s CPU; {count} redactions; pack {digest[:12]}", flush=True)
    if args.profile:
        forget_all()
        profiler = cProfile.Profile()
        profiler.runcall(one)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
