"""Jobs of the ``platform_foundation`` DAG: seed the stores, record it, prove the ledger.

Thin wrappers over :mod:`governance.stores.seeding` and :mod:`governance.ledger`
that return what a task may put in XCom: store names, counts, ledger sequence
numbers, hashes and URIs. Each is safe to retry:

- seeding is idempotent per (store, seed);
- :func:`record_seed` finds the entry a previous try of the same run already
  appended instead of appending a second one;
- :func:`export_and_verify_ledger` rewrites the bundle from scratch.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Mapping

from governance.config import Settings
from governance.errors import LedgerIntegrityError
from governance.ledger import Ledger
from governance.unit import Unit

__all__ = [
    "seed_stores",
    "record_event",
    "record_seed",
    "export_and_verify_ledger",
    "export_ledger_for_run",
    "export_directory",
    "upload_bundle",
    "SEED_ACTION",
]

#: Ledger action for "synthetic data was loaded into a store".
SEED_ACTION = "store.seeded"
_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._-]+")
# Text a seeding result may carry into XCom: names and URIs, never record content.
_TEXT_KEYS = frozenset({"store", "manifest_uri", "as_of"})


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ids_and_counts(result: Mapping[str, Any]) -> dict[str, Any]:
    """Keep numbers, flags, number maps and named identifiers/URIs; drop anything else."""
    kept: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, (bool, int)):
            kept[key] = value
        elif isinstance(value, Mapping):
            kept[key] = {str(k): v for k, v in value.items() if _is_count(v)}
        elif key in _TEXT_KEYS and isinstance(value, str):
            kept[key] = value
    return kept


def _row_counts(result: Mapping[str, Any]) -> dict[str, int]:
    """Rows written per entity, plus stored objects (``documents``)."""
    counts = {str(k): int(v) for k, v in (result.get("rows") or {}).items() if _is_count(v)}
    if _is_count(result.get("documents")):
        counts["objects"] = int(result["documents"])
    return counts


def seed_stores(settings: Settings, *, families: int, seed: int) -> dict[str, Any]:
    """Seed every configured store with ``families`` synthetic families from ``seed``.

    Returns ``{"seed", "families", "stores": {name: summary}, "totals": {entity: rows}}``;
    each store's summary is :func:`governance.stores.seeding.seed_store`'s, filtered
    to identifiers and counts.
    """
    from governance.stores.seeding import seed_store  # the generator is heavy; load on use

    stores = {
        store.name: _ids_and_counts(seed_store(settings, store.name, families=families, seed=seed))
        for store in settings.stores
    }
    totals: dict[str, int] = {}
    for summary in stores.values():
        for key, value in _row_counts(summary).items():
            totals[key] = totals.get(key, 0) + value
    return {"seed": seed, "families": families, "stores": stores, "totals": totals}


def _open_ledger(settings: Settings) -> Ledger:
    return Unit.open(settings).ledger  # closed by the caller


def record_event(
    settings: Settings,
    *,
    actor: str,
    action: str,
    reason: str | None = None,
    counts: Mapping[str, int] | None = None,
    details: Mapping[str, Any] | None = None,
    store: str | None = None,
) -> dict[str, Any]:
    """Append one ledger entry; returns ``{"seq", "entry_hash"}``."""
    with Unit.open(settings) as unit:
        entry = unit.ledger.append(actor=actor, action=action, reason=reason, store=store, counts=counts,
                                   details=details)
    return {"seq": entry.seq, "entry_hash": entry.entry_hash}


def record_seed(settings: Settings, *, seeded: Mapping[str, Any], actor: str, run_id: str) -> dict[str, Any]:
    """Record a :func:`seed_stores` result in the ledger, once per run.

    ``run_id`` goes in the entry's details; a retry of the same run finds that
    entry (:meth:`Work.append_once`) and returns it instead of appending a duplicate.
    """
    stores: Mapping[str, Mapping[str, Any]] = seeded.get("stores", {})
    details: dict[str, Any] = {
        "run_id": run_id,
        "seed": int(seeded["seed"]),
        "families_per_store": int(seeded["families"]),
        "stores": sorted(stores),
    }
    # Ledger details are flat (scalars or lists of scalars): one key per store.
    for name, summary in sorted(stores.items()):
        if summary.get("manifest_uri"):
            details[f"manifest_uri.{name}"] = summary["manifest_uri"]
    key = f"seed:{run_id}"
    with Unit.open(settings) as unit:
        earlier = unit.find_once(SEED_ACTION, key)
        with unit.transaction() as work:
            work.append_once(key=key, actor=actor, action=SEED_ACTION,
                             reason="synthetic reference data loaded for platform checks",
                             store=next(iter(stores)) if len(stores) == 1 else None,
                             counts={k: int(v) for k, v in seeded.get("totals", {}).items()}, details=details)
        entry = next(unit.ledger.entries(start=work.seqs[key], stop=work.seqs[key] + 1))
    return {"seq": entry.seq, "entry_hash": entry.entry_hash, "already_recorded": earlier is not None}


def export_directory(settings: Settings, run_id: str) -> Path:
    """``<home>/exports/ledger-<run_id>``, with the run id made safe for a folder name."""
    safe = _UNSAFE_PATH.sub("_", run_id).strip("._") or "run"
    return settings.home / "exports" / f"ledger-{safe}"


def export_and_verify_ledger(settings: Settings, *, directory: Path, expect_seq: int | None = None) -> dict[str, Any]:
    """Checkpoint, export a bundle to ``directory``, verify the database ledger and the bundle.

    Raises :class:`LedgerIntegrityError` if either verification fails, or if
    the ledger holds fewer than ``expect_seq`` entries (an entry we wrote is gone).
    """
    from governance.ledger.bundle import verify_bundle

    directory = Path(directory)
    if directory.exists():  # a previous try's partial bundle: start again
        shutil.rmtree(directory)
    ledger = _open_ledger(settings)
    try:
        ledger.checkpoint()
        ledger.export(directory)
        database = ledger.verify()
    finally:
        ledger.close()
    if not database.ok:
        raise LedgerIntegrityError(f"ledger database failed verification: {database.summary()}", database.first_bad_seq)
    bundle = verify_bundle(directory)
    if not bundle.ok:
        raise LedgerIntegrityError(f"ledger bundle {directory} failed verification: {bundle.summary()}", bundle.first_bad_seq)
    if expect_seq is not None and bundle.entries < expect_seq:
        raise LedgerIntegrityError(
            f"ledger bundle {directory} holds {bundle.entries} entries but entry {expect_seq} was written"
        )
    result = {
        "entries": database.entries,
        "checkpoints": database.checkpoints,
        "head_hash": database.head_hash,
        "bundle_entries": bundle.entries,
        "bundle_head_hash": bundle.head_hash,
        "bundle_path": str(directory.resolve()),
        "bundle_uri": directory.resolve().as_uri(),
    }
    if not settings.embedded:
        # A deployment: the verified bundle goes to object storage; the worker's copy is scratch.
        result["bundle_uri"] = upload_bundle(settings, directory)
        del result["bundle_path"]
        shutil.rmtree(directory, ignore_errors=True)
    return result


def upload_bundle(settings: Settings, directory: Path) -> str:
    """Copy an exported (and verified) ledger bundle to ``ledger-exports/<folder>/``; its object URI."""
    from governance.stores.seeding import open_objects

    objects = open_objects(settings)
    prefix = f"ledger-exports/{Path(directory).name}/"
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        objects.put(prefix + path.relative_to(directory).as_posix(), path.read_bytes())
    return f"{objects.uri}/{prefix}"


def export_ledger_for_run(settings: Settings, *, run_id: str, expect_seq: int | None = None) -> dict[str, Any]:
    """:func:`export_and_verify_ledger` into :func:`export_directory` for ``run_id``."""
    return export_and_verify_ledger(settings, directory=export_directory(settings, run_id), expect_seq=expect_seq)
