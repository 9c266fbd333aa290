"""The console's slow-view cache: computed once, shown stale (and marked) while recomputed after a change."""

from __future__ import annotations

import threading
import time


def test_a_slow_view_is_shown_stale_while_it_is_recomputed() -> None:
    from governance_airflow.console import context

    context.forget_cache()
    calls: list[int] = []
    release = threading.Event()

    def compute(n: int):
        def run() -> int:
            calls.append(n)
            if n == 2:
                release.wait(5)  # a slow recomputation, still running when the page asks
            return n
        return run

    assert context.latest(("view",), "head-1", 600, compute(1)) == (1, True)
    assert context.latest(("view",), "head-1", 600, compute(99)) == (1, True)  # cached: not recomputed
    assert context.latest(("view",), "head-2", 600, compute(2)) == (1, False)  # the ledger moved: old value, marked
    assert context.latest(("view",), "head-2", 600, compute(3)) == (1, False)  # one recomputation at a time
    release.set()
    deadline = time.monotonic() + 5
    while context.latest(("view",), "head-2", 600, compute(4))[1] is False and time.monotonic() < deadline:
        time.sleep(0.02)
    assert context.latest(("view",), "head-2", 600, compute(5)) == (2, True)
    assert calls == [1, 2]
    # Age counts too: the case store changes without the ledger moving.
    assert context.latest(("view",), "head-2", 0, compute(6)) == (2, False)
    context.forget_cache()
