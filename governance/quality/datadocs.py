"""Publish a store's Data Docs as a static site in object storage.

GX builds the site (index, suite pages, the run's validation pages) from the
sanitized results held by the run's ephemeral context into a temporary
folder; each file is then put under ``quality/<store>/data-docs/`` in the
platform's object store, files of an older site that the new one no longer
has are deleted (every version), and the folder is removed. A
``quality/<store>/summary.json`` beside it holds the run's counts, the failing
and skipped rules and why rules were skipped: counts and rule names only.

The pages carry counts and rule descriptions, never a value, a name or note
text: the results were reduced to counts before GX saw them again
(:mod:`governance.quality.sanitize`), and the batches are described by
asset name only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from governance.quality.report import SKIPPED
from governance.quality.runner import Validation, quiet_gx
from governance.storage import ObjectStore

__all__ = ["SITE_NAME", "docs_prefix", "index_key", "summary_key", "object_uri", "publish"]

SITE_NAME = "governance_quality"


def docs_prefix(store: str) -> str:
    return f"quality/{store}/data-docs/"


def index_key(store: str) -> str:
    return docs_prefix(store) + "index.html"


def summary_key(store: str) -> str:
    return f"quality/{store}/summary.json"


def object_uri(objects: ObjectStore, key: str) -> str:
    """Where an object lives, without credentials or signatures (``file:///...`` or ``s3://...``)."""
    return f"{objects.uri.rstrip('/')}/{key}"


def _build_site(validation: Validation, folder: Path) -> None:
    context = validation.context
    config = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folder)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    if SITE_NAME in (context.config.data_docs_sites or {}):  # published before from this run
        context.update_data_docs_site(site_name=SITE_NAME, site_config=config)
    else:
        context.add_data_docs_site(site_name=SITE_NAME, site_config=config)
    with quiet_gx():
        context.build_data_docs(site_names=[SITE_NAME])


def publish(validation: Validation, objects: ObjectStore, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the site, upload it and the summary; return the keys and URIs (no content)."""
    store = validation.report.store
    prefix = docs_prefix(store)
    with tempfile.TemporaryDirectory(prefix="gov-quality-docs-") as tmp:
        folder = Path(tmp)
        _build_site(validation, folder)
        keys = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = prefix + path.relative_to(folder).as_posix()
            objects.put(key, path.read_bytes())
            keys.append(key)
    stale = [key for key in objects.list(prefix) if key not in set(keys)]
    for key in stale:
        objects.delete(key)
    summary = validation.report.summary()
    summary["run_id"] = validation.report.run_id
    summary["skipped"] = {o.rule: o.reason for o in validation.report.outcomes if o.status == SKIPPED}
    summary.update(extra or {})
    objects.put(summary_key(store), json.dumps(summary, indent=2, sort_keys=True, default=str).encode("utf-8"))
    return {
        "data_docs_key": index_key(store),
        "data_docs_uri": object_uri(objects, index_key(store)),
        "data_docs_files": len(keys),
        "data_docs_removed": len(stale),
        "summary_key": summary_key(store),
    }
