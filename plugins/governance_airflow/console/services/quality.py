"""Quality and sharing page: quarantine by rule with release, sharing findings with resolve-with-note, Data Docs.

Release and resolve write the same ledger entries as ``governance quality
quarantine release`` and ``governance sharing resolve`` (the same functions, the
user's name as actor). Data Docs are the objects ``data_quality`` published,
served by the console with every reference to a public CDN removed (see
:func:`data_docs`).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path, PurePosixPath
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.errors import ConfigError
from governance_airflow.console import context

__all__ = ["quarantine_by_rule", "release", "findings", "resolve", "data_docs", "data_docs_pages", "gx_stylesheet",
           "DATA_DOCS_CSP"]

SHOWN_PER_RULE = 100
SHOWN_FINDINGS = 200
# Data Docs may load nothing from outside the platform and run no script.
DATA_DOCS_CSP = ("default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                 "font-src 'self'; frame-ancestors 'self'")
_EXTERNAL = re.compile(r"""<(script|link)\b[^>]*?(src|href)\s*=\s*["']?(https?:)?//[^>]*>(\s*</script>)?""", re.I)


def quarantine_by_rule(settings: Settings, store: str) -> dict[str, Any]:
    """Active quarantine rows per rule: counts and the first record identifiers (never content).

    Counted in SQL over :data:`governance.quality.tables.quarantine` (a reporting
    query; ``active_rows`` returns every row, too many for a page at 20k families).
    """
    from governance.quality.tables import quarantine as q

    name = settings.store(store).name
    active = sa.and_(q.c.store == name, q.c.released_at.is_(None))
    with context.state(settings).connect() as conn:
        counts = conn.execute(sa.select(q.c.expectation, sa.func.count(), sa.func.count(sa.distinct(q.c.case_id)))
                              .where(active).group_by(q.c.expectation).order_by(q.c.expectation)).all()
        rules: dict[str, dict[str, Any]] = {}
        for rule, count, cases in counts:
            rows = conn.execute(sa.select(q.c.entity, q.c.record_id, q.c.case_id, q.c.quarantined_at)
                                .where(active, q.c.expectation == rule).order_by(q.c.id).limit(SHOWN_PER_RULE)).all()
            rules[rule] = {"count": count, "cases": cases, "rows": [
                {"entity": r.entity, "record_id": r.record_id, "case_id": r.case_id,
                 "since": r.quarantined_at.strftime("%Y-%m-%d") if r.quarantined_at else ""} for r in rows]}
    return {"store": name, "rules": rules, "total": sum(v["count"] for v in rules.values())}


def release(settings: Settings, *, actor: str, store: str, record_ids: list[str], rule: str | None,
            reason: str) -> dict[str, Any]:
    """Release records by hand, as ``governance quality quarantine release`` does."""
    from governance.quality.quarantine import release_records
    from governance.unit import Unit

    if not reason or not reason.strip():
        raise ConfigError("a release needs a reason (no personal data): it goes in the ledger")
    ids = [i for i in (x.strip() for x in record_ids) if i]
    if not ids:
        raise ConfigError("choose at least one record to release")
    name = settings.store(store).name
    at = context.now()
    with Unit.open(settings) as unit:
        released = release_records(unit, name, ids, rule=rule or None, at=at,
                                   run_id=f"console-release__{at:%Y%m%dT%H%M%SZ}", actor=actor, reason=reason.strip())
        unit.ledger.checkpoint()
    return {"store": name, "released": released, "count": sum(len(v) for v in released.values())}


def findings(settings: Settings, *, status: str | None = "open", shown: int = SHOWN_FINDINGS) -> dict[str, Any]:
    """Sharing findings (identifiers, rule codes, dates): counts per rule, and the oldest ``shown``.

    A reporting query over :data:`governance.sharing.tables.findings` with the
    columns ``list_findings`` returns (never the resolution note), limited in SQL.
    """
    from governance.sharing.tables import findings as f

    where = f.c.status == status if status else sa.true()
    columns = [f.c.store, f.c.finding_key, f.c.rule, f.c.entity, f.c.record_id, f.c.case_id, f.c.event_on,
               f.c.first_seen_as_of, f.c.status, f.c.resolved_by]
    with context.state(settings).connect() as conn:
        by_rule = dict(conn.execute(sa.select(f.c.rule, sa.func.count()).where(where).group_by(f.c.rule)
                                    .order_by(f.c.rule)).all())
        rows = conn.execute(sa.select(*columns).where(where).order_by(f.c.first_seen_as_of, f.c.store, f.c.rule,
                                                                       f.c.record_id).limit(shown)).mappings().all()
    out = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows]
    return {"by_rule": by_rule, "count": sum(by_rule.values()), "rows": out}


def resolve(settings: Settings, *, by: str, actor: str, store: str, finding_key: str, note: str) -> dict[str, Any]:
    """Resolve with a note, finding and ledger entry in one transaction where they share a database (as the CLI)."""
    from governance.sharing.findings import resolve_and_record
    from governance.unit import Unit

    name = settings.store(store).name
    with Unit.open(settings) as unit:
        return resolve_and_record(unit, store=name, finding_key=finding_key, by=by, note=note, at=context.now(),
                                  actor=actor)


def _clean_path(path: str) -> str:
    parts = PurePosixPath(path or "index.html").parts
    if not parts or any(p in ("..", "") or p.startswith(".") for p in parts) or PurePosixPath(path).is_absolute():
        raise ConfigError(f"no Data Docs page {path[:80]!r}")
    return "/".join(parts)


def data_docs(settings: Settings, store: str, path: str) -> tuple[bytes, str]:
    """A published Data Docs file, with external scripts and stylesheets removed (HTML only)."""
    from governance.errors import StorageError
    from governance.quality.datadocs import docs_prefix

    name = settings.store(store).name
    key = docs_prefix(name) + _clean_path(path)
    try:
        body = context.objects(settings).get(key)
    except (StorageError, FileNotFoundError):
        raise ConfigError(f"store {name}: no Data Docs page {path[:80]!r} (has data_quality run?)") from None
    media = mimetypes.guess_type(key)[0] or "application/octet-stream"
    if media == "text/html":
        text = _EXTERNAL.sub("", body.decode("utf-8", errors="replace"))
        depth = key[len(docs_prefix(name)):].count("/")
        sheet = "../" * depth + "_platform/data_docs_default_styles.css"
        text = text.replace("</head>", f'<link rel="stylesheet" href="{sheet}"></head>', 1)
        body = text.encode("utf-8")
    return body, media


def data_docs_pages(settings: Settings, store: str) -> list[dict[str, str]]:
    """The published pages (validation results, suites), listed here because GX's own index
    builds its tables with scripts loaded from CDNs, which the console does not serve."""
    from governance.quality.datadocs import docs_prefix

    name = settings.store(store).name
    prefix = docs_prefix(name)
    pages = []
    for key in sorted(context.objects(settings).list(prefix)):
        path = key[len(prefix):]
        if path.endswith(".html") and path != "index.html" and not path.startswith("static/"):
            kind = "validation result" if path.startswith("validations/") else (
                "expectation suite" if path.startswith("expectations/") else "page")
            pages.append({"path": path, "kind": kind, "name": path.rsplit("/", 1)[-1].removesuffix(".html")
                          if kind == "expectation suite" else "/".join(path.split("/")[1:-1]) or path})
    return pages


def gx_stylesheet() -> bytes:
    """Great Expectations' own default Data Docs stylesheet, shipped in its wheel (no CDN)."""
    import importlib.util

    spec = importlib.util.find_spec("great_expectations")  # located, not imported (importing GX takes seconds)
    if spec is None or not spec.origin:
        raise ConfigError("great_expectations is not installed: no Data Docs stylesheet")
    return (Path(spec.origin).parent / "render/view/static/styles/data_docs_default_styles.css").read_bytes()
