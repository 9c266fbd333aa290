"""What every page needs: the platform's settings, today's date, a small cache, the audit log.

Settings come from Airflow connections through :class:`GovernanceHook`, exactly
as a task resolves them, and are kept for ``SETTINGS_SECONDS`` (the hook logs a
line per resolution and reads a Variable). :func:`use_settings` fixes them
instead (the benchmark and the in-process tests, which run the app outside an
Airflow with connections).

The console reads the clock here, once per request, and passes the date into
``governance/`` (domain functions never read the clock). A page may be asked
about another day with ``?as_of=YYYY-MM-DD``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime, timezone
from typing import Any, Callable, Hashable, TypeVar

from governance.config import Settings

__all__ = ["settings", "today", "now", "parse_day", "cached", "forget_cache", "drop_latest", "evict_latest", "audit_log",
           "SETTINGS_SECONDS",
           "ledger", "case_store", "state", "objects", "ledger_head", "latest", "refresh", "use_settings"]

SETTINGS_SECONDS = 30.0
T = TypeVar("T")

# Identifiers, counts and user names only: the canary test reads this logger.
audit_log = logging.getLogger("governance_airflow.console")

_lock = threading.Lock()
_cache: dict[Hashable, tuple[float, Any]] = {}


_fixed: list[Settings] = []


def use_settings(fixed: Settings | None) -> None:
    """Serve these settings instead of resolving them from Airflow (None: back to Airflow's)."""
    _fixed[:] = [fixed] if fixed is not None else []
    forget_cache()


def settings() -> Settings:
    """The platform's settings, as a task would resolve them."""
    if _fixed:
        return _fixed[0]

    def resolve() -> Settings:
        from governance_airflow.hooks import GovernanceHook

        return GovernanceHook().get_settings()

    return cached(("settings",), SETTINGS_SECONDS, resolve)


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    return now().date()


def parse_day(text: str | None, *, name: str = "as_of") -> date:
    """A YYYY-MM-DD query or form value, else today; bad input is a one-line error."""
    from governance.errors import ConfigError

    if text is None or not str(text).strip():
        return today()
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ConfigError(f"{name}: {str(text)[:40]!r} is not a date in YYYY-MM-DD form") from None


def cached(key: Hashable, seconds: float, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``key`` for ``seconds``; keys carry what invalidates (e.g. the ledger head)."""
    at = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and at - hit[0] < seconds:
            return hit[1]
    value = compute()
    with _lock:
        if len(_cache) > 256:  # bounded: old keys (an earlier ledger head) are never asked again
            _cache.clear()
        _cache[key] = (at, value)
    return value


def forget_cache() -> None:
    with _lock:
        _cache.clear()
        _latest.clear()
        _used.clear()


# -- slow views (the retention forecast over every case): stale while they are recomputed ---------
_latest: dict[Hashable, tuple[Hashable, float, Any]] = {}
_used: dict[Hashable, float] = {}  # name -> when a page last asked for it (for evict_latest)
_computing: dict[Hashable, threading.Lock] = {}


def _compute_into(name: Hashable, version: Hashable, seconds: float, compute: Callable[[], T]) -> T:
    with _lock:
        guard = _computing.setdefault(name, threading.Lock())
    with guard:  # one computation per view at a time; a waiter then finds it done
        with _lock:
            hit = _latest.get(name)
        if hit is not None and hit[0] == version and time.monotonic() - hit[1] < seconds:
            return hit[2]
        value = compute()
        with _lock:
            _latest[name] = (version, time.monotonic(), value)
        return value


def latest(name: Hashable, version: Hashable, seconds: float, compute: Callable[[], T], *,
           wait: float | None = None) -> tuple[T | None, bool]:
    """(value, current) of a slow view identified by ``name``, valid while ``version`` holds.

    Nothing computed yet: computed now (the one slow request), or, with ``wait``
    seconds given, computed in the background and waited for that long at most;
    if not ready by then, ``(None, False)`` (the page says it is being prepared
    and reloads itself). Computed for an older version (or more than ``seconds``
    ago): that value is returned at once, marked not current, and a background
    thread recomputes it, so a page never waits seconds because somebody placed a hold.
    """
    with _lock:
        hit = _latest.get(name)
        _used[name] = time.monotonic()
    if hit is None:
        if wait is None:
            return _compute_into(name, version, seconds, compute), True
        refresh(name, version, seconds, compute)
        until = time.monotonic() + wait
        while True:
            with _lock:
                hit = _latest.get(name)
            if hit is not None:
                return hit[2], True
            if time.monotonic() >= until:
                return None, False
            time.sleep(0.02)
    if hit[0] == version and time.monotonic() - hit[1] < seconds:
        return hit[2], True
    refresh(name, version, seconds, compute)
    return hit[2], False


def drop_latest(stale: Callable[[Hashable], bool]) -> None:
    """Forget the slow views whose name ``stale(name)`` (a request's pack from before its own change)."""
    with _lock:
        for name in [n for n in _latest if stale(n)]:
            del _latest[name]
            _used.pop(name, None)


def evict_latest(kind: Callable[[Hashable], bool], *, keep: int, idle_seconds: float) -> int:
    """Of the slow views whose name ``kind(name)``, forget those no page asked for in ``idle_seconds``,
    then all but the ``keep`` most recently asked for (least recently used out); returns how many went."""
    at = time.monotonic()
    with _lock:
        names = sorted((n for n in _latest if kind(n)), key=lambda n: _used.get(n, 0.0), reverse=True)
        gone = [n for i, n in enumerate(names) if i >= keep or at - _used.get(n, 0.0) > idle_seconds]
        for name in gone:
            del _latest[name]
            _used.pop(name, None)
    return len(gone)


def refresh(name: Hashable, version: Hashable, seconds: float, compute: Callable[[], Any]) -> None:
    """Recompute a slow view in the background unless it is current (or already being computed).

    ``seconds`` bounds how long a value stays current for one ``version``: the
    case store changes without the ledger moving (new cases are entered in the
    case-management system), so the forecast is also recomputed on age.
    """
    with _lock:
        guard = _computing.setdefault(name, threading.Lock())
    if guard.locked():
        return

    def run() -> None:
        try:
            _compute_into(name, version, seconds, compute)
        except Exception as exc:  # noqa: BLE001 - the next request computes it in the foreground and shows the error
            audit_log.warning("console: background refresh of %s failed: %s", name[0] if isinstance(name, tuple) else name,
                              type(exc).__name__)
            with _lock:
                _latest.pop(name, None)

    threading.Thread(target=run, name="console-refresh", daemon=True).start()


def ledger(current: Settings):
    """One :class:`Ledger` per ledger database for the server's life (opening checks the schema)."""
    from governance.keys import KeyStore
    from governance.ledger import Ledger

    return cached(("ledger", current.ledger_url, str(current.keys_dir)), float("inf"),
                  lambda: Ledger.open(current.ledger_url, KeyStore(current.keys_dir)))


def case_store(current: Settings, name: str):
    """One :class:`CaseStore` per configured store (its engine pools connections)."""
    from governance.stores.store import CaseStore

    config = current.store(name)  # unknown store -> ConfigError naming it
    return cached(("store", config.name, config.url, config.mapping), float("inf"), lambda: CaseStore.open(config))


def state(current: Settings):
    from governance.state import state_engine

    return state_engine(current)


def objects(current: Settings):
    from governance.stores.seeding import open_objects

    return cached(("objects", current.objects_url, current.s3_endpoint_url), float("inf"), lambda: open_objects(current))


def ledger_head(current: Settings) -> tuple[int, str]:
    """(seq, hash) of the newest entry: the cache key of anything derived from the platform's state."""
    import sqlalchemy as sa

    from governance.ledger.schema import entries_table as e

    with ledger(current).engine.connect() as conn:
        row = conn.execute(sa.select(e.c.seq, e.c.entry_hash).order_by(e.c.seq.desc()).limit(1)).first()
    return (row.seq, row.entry_hash) if row else (0, "")
