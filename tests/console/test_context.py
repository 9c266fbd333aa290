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


def test_request_packs_are_bounded_least_recently_viewed_out_and_by_age(monkeypatch) -> None:
    """Packs are personal data: a dozen kept at most, the least recently viewed dropped first, none left
    unviewed past the idle limit (even when no page is asked for again); other slow views untouched."""
    from governance_airflow.console import context
    from governance_airflow.console.services import requests as service

    context.forget_cache()
    pack = lambda i: (lambda: {"pack": {"request": i}})  # noqa: E731
    names = [("request-pack", f"sar-{i:02d}", "2026-12-06", False, True, ("state",)) for i in range(service.PACK_ENTRIES + 2)]
    for i, name in enumerate(names):
        context.latest(name, "head", 600, pack(i))
        time.sleep(0.002)  # distinct times of use
    context.latest(names[0], "head", 600, pack(99))  # the first viewed again: the most recent now
    context.latest(("forecast", "default", "2026-12-06"), "head", 600, lambda: "forecast")
    service._forget_old_packs()
    kept = {n for n in context._latest if n[0] == "request-pack"}
    assert len(kept) == service.PACK_ENTRIES
    assert names[0] in kept and names[1] not in kept and names[2] not in kept  # least recently viewed out
    assert ("forecast", "default", "2026-12-06") in context._latest

    monkeypatch.setattr(service, "PACK_IDLE_SECONDS", 0.2)
    with service._sweep_lock:  # the timer started above waits 15 minutes; start one for the short limit
        if service._sweep is not None:
            service._sweep.cancel()
        service._sweep = None
    service._forget_old_packs()  # a sweep is now due when they would go idle
    deadline = time.monotonic() + 5
    while any(n[0] == "request-pack" for n in context._latest) and time.monotonic() < deadline:
        time.sleep(0.05)  # no page asked for: the sweep alone forgets them
    assert not any(n[0] == "request-pack" for n in context._latest)
    assert ("forecast", "default", "2026-12-06") in context._latest
    context.forget_cache()
