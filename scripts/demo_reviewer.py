"""The demo's IG reviewer: answers a DAG's review forms in Airflow, as a named user.

Started by the main job beside ``airflow dags test`` so the review step is
really exercised (Airflow's own Required Actions API, a named responder, the
two-person rule) without someone at the UI. Never part of a real installation.

    python scripts/demo_reviewer.py --dag retention_sweep --as demo.ig.reviewer --option Approve
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dag", required=True)
    parser.add_argument("--as", dest="reviewer", required=True)
    parser.add_argument("--option", default="Approve")
    args = parser.parse_args()
    from governance_airflow.responder import Responder

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Responder(args.dag, args.reviewer, lambda detail: ([args.option], {})) as responder:
        while not stop.wait(0.5):
            pass
    for detail in responder.answered:
        print(f"demo reviewer {args.reviewer} answered {detail['task_id']} with {detail['chosen']}", flush=True)
    for error in responder.errors:
        print(f"demo reviewer error: {error}", file=sys.stderr, flush=True)
    return 1 if responder.errors else 0


if __name__ == "__main__":
    sys.exit(main())
