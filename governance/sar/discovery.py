"""Discovery: every record about a subject, found through the store's mapping, and the search log.

From the subject's person record the search follows the mapping's links:
case memberships -> cases -> casenotes, documents (fetched from object storage),
consent forms, sharing records, access-log entries; then research extracts the
subject's data went into (through ``governance.research`` when it is
installed) and ledger entries naming the subject or their cases. Each place
searched is logged with what was looked for (identifiers) and how many rows
were found: the evidence of a reasonable and proportionate search (UK GDPR
Art. 15 as amended by DUAA 2025). Text is held in memory only, for the bundle.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import sqlalchemy as sa

from governance.db import chunked
from governance.errors import ObjectNotFound
from governance.sar.register import RequestError
from governance.storage import ObjectStore
from governance.stores.store import CaseStore

__all__ = ["Record", "SearchEntry", "Discovery", "discover", "ENTITY_ORDER"]

# Order of sections in the bundle.
ENTITY_ORDER = ("person", "case", "casenote", "document", "consent", "sharing_record", "access_log",
                "research_study", "ledger_entry")
# Text fields redaction acts on, per entity (the model's pii free-text fields).
_TEXT_FIELDS = {"casenote": ("title", "body"), "document": ("title", "text"), "sharing_record": ("information",)}


@dataclass
class Record:
    """One record about the subject: its text fields (to redact) and the rest (shown as is)."""

    entity: str
    record_id: str
    case_id: str | None
    on: str | None  # ISO date the record is dated, for ordering
    fields: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.entity, self.record_id)

    def sha256(self) -> str:
        body = json.dumps({"fields": self.fields, "meta": self.meta}, sort_keys=True, default=str)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SearchEntry:
    source: str  # store, objects, ledger, research
    target: str  # table, object prefix, module
    criterion: str
    found: int
    note: str | None = None


@dataclass
class Discovery:
    store: str
    subject: dict[str, Any]
    records: list[Record]
    people: list[dict[str, Any]]  # everyone on the subject's cases or in their family (subject included)
    professionals: list[dict[str, Any]]
    searches: list[SearchEntry]

    def by_entity(self, entity: str) -> list[Record]:
        return [r for r in self.records if r.entity == entity]

    @property
    def case_ids(self) -> list[str]:
        return [r.record_id for r in self.by_entity("case")]

    def counts(self) -> dict[str, int]:
        counts = {entity: 0 for entity in ENTITY_ORDER}
        for record in self.records:
            counts[record.entity] += 1
        return counts



def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _rows(store: CaseStore, entity: str, where_field: str, ids: Sequence[str], fields: Sequence[str] | None = None) -> list[dict]:
    """Rows of ``entity`` whose ``where_field`` is one of ``ids`` (set-based, chunked), with an id each.

    A row the store keeps without an id, or under an id another row also has, is
    still the subject's information and is disclosed: it gets a derived id
    (:func:`_identified`) that is stable between runs, so its review decisions hold.
    """
    ids = [i for i in ids if i is not None]
    if not ids or not store.has_field(entity, where_field):
        return []
    mapped = store.mapping.entity(entity)
    names = [f for f in (fields or store.select(entity).selected_columns.keys()) if mapped.has(f)]
    out: list[dict] = []
    with store.engine.connect() as conn:
        for chunk in chunked(sorted(set(ids))):
            query = store.select(entity, names).where(store.raw(entity, where_field).in_(chunk))
            out.extend(dict(r) for r in conn.execute(query).mappings())
    return _identified(entity, out) if "id" in names else out


def _identified(entity: str, rows: list[dict]) -> list[dict]:
    """Give a row without an id ``<entity>-noid-<hash>`` and a repeated id ``<id>~<n>`` (n by content hash).

    Identical rows are indistinguishable, so numbering them in any order gives the same result.
    """
    def digest(row: dict) -> str:
        text = json.dumps({k: _iso(v) for k, v in row.items() if k != "id"}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    for row in rows:
        if row.get("id") is None:
            row["id"] = f"{entity}-noid-{digest(row)[:12]}"
    by_id: dict[Any, list[dict]] = {}
    for row in rows:
        by_id.setdefault(row["id"], []).append(row)
    for record_id, group in by_id.items():
        for n, row in enumerate(sorted(group, key=digest)[1:], start=2):
            row["id"] = f"{record_id}~{n}"
    return rows


class _Searcher:
    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.log: list[SearchEntry] = []

    def table(self, entity: str, criterion: str, rows: list, note: str | None = None) -> None:
        target = self.store.table(entity).name if self.store.has(entity) else f"({entity} not mapped)"
        self.log.append(SearchEntry("store", target, criterion, len(rows), note))


def discover(store: CaseStore, objects: ObjectStore, subject_person_id: str, *, ledger_engine: sa.Engine | None = None,
             research: Any = None) -> Discovery:
    """Find everything about ``subject_person_id`` in ``store`` (see the module docstring).

    ``research``: a callable ``(person_id) -> list[study ids]``, or None when
    the research capability is not installed (logged as such).
    """
    s = _Searcher(store)
    subject_rows = _rows(store, "person", "id", [subject_person_id])
    s.table("person", "id = subject", subject_rows)
    if not subject_rows:
        raise RequestError(f"store {store.name} has no person {subject_person_id[:80]!r}")
    subject = subject_rows[0]
    records: list[Record] = [Record("person", subject_person_id, None, None, meta={k: _iso(v) for k, v in subject.items()})]

    memberships = _rows(store, "case_member", "person_id", [subject_person_id])
    s.table("case_member", "person_id = subject", memberships)
    case_ids = sorted({m["case_id"] for m in memberships} - {None})
    cases = sorted(_rows(store, "case", "id", case_ids), key=lambda c: (str(c.get("opened_on")), c["id"]))
    s.table("case", "id in the subject's memberships", cases)
    for case in cases:
        records.append(Record("case", case["id"], case["id"], _iso(case.get("opened_on")),
                              meta={k: _iso(v) for k, v in case.items()}))
    case_ids = [c["id"] for c in cases]

    notes = _rows(store, "casenote", "case_id", case_ids)
    s.table("casenote", "case_id in the subject's cases", notes)
    for n in notes:
        records.append(Record("casenote", n["id"], n["case_id"], _iso(n.get("written_on")),
                              fields={"title": n.get("title") or "", "body": n.get("body") or ""},
                              meta={k: _iso(v) for k, v in n.items() if k not in ("title", "body")}))

    records += _documents(store, objects, case_ids, s)

    consents = _rows(store, "consent", "case_id", case_ids)
    seen = {c["id"] for c in consents}
    consents += [c for c in _rows(store, "consent", "given_by", [subject_person_id]) if c["id"] not in seen]
    s.table("consent", "case_id in the subject's cases, or signed by the subject", consents)
    opt_outs = _rows(store, "consent_opt_out", "consent_id", [c["id"] for c in consents])
    s.table("consent_opt_out", "consent_id in those consents", opt_outs)
    for c in consents:
        meta = {k: _iso(v) for k, v in c.items()}
        meta["opted_out_agencies"] = sorted(str(o["agency"]) for o in opt_outs
                                            if o["consent_id"] == c["id"] and o.get("agency") is not None)
        records.append(Record("consent", c["id"], c.get("case_id"), _iso(c.get("given_on")), meta=meta))

    shares = _rows(store, "sharing_record", "case_id", case_ids)
    s.table("sharing_record", "case_id in the subject's cases", shares)
    for r in shares:
        records.append(Record("sharing_record", r["id"], r["case_id"], _iso(r.get("shared_on")),
                              fields={"information": r.get("information") or ""},
                              meta={k: _iso(v) for k, v in r.items() if k != "information"}))

    access = _rows(store, "access_log", "case_id", case_ids)
    s.table("access_log", "case_id in the subject's cases", access)
    for a in access:
        records.append(Record("access_log", a["id"], a["case_id"], _iso(a.get("accessed_at")),
                              meta={k: _iso(v) for k, v in a.items()}))

    records += _research(research, subject_person_id, s)
    records += _ledger(ledger_engine, [subject_person_id, *case_ids], s)

    people = _rows(store, "person", "family_id", sorted({subject.get("family_id"), *(c.get("family_id") for c in cases)} - {None}))
    member_ids = sorted({m["person_id"] for m in _rows(store, "case_member", "case_id", case_ids)} - {None})
    known = {p["id"] for p in people}
    people += [p for p in _rows(store, "person", "id", member_ids) if p["id"] not in known]
    s.table("person", "family of the subject or of their cases, and members of their cases", people,
            "to recognise other people in the text")
    professionals = [p for p in people if p.get("role") == "professional"]
    if store.has_field("person", "role"):
        with store.engine.connect() as conn:
            query = store.select("person").where(store.is_("person", "role", "professional"))
            professionals = [dict(r) for r in conn.execute(query).mappings()]
    people = [p for p in people if p.get("role") != "professional"]
    return Discovery(store.name, subject, records, people, professionals, s.log)


def _documents(store: CaseStore, objects: ObjectStore, case_ids: list[str], s: _Searcher) -> list[Record]:
    docs = _rows(store, "document", "case_id", case_ids)
    s.table("document", "case_id in the subject's cases", docs)
    out: list[Record] = []
    missing = 0
    prefixes: dict[str, set[str]] = {}
    for d in sorted(docs, key=lambda d: d["id"]):
        key = d.get("object_key") or ""
        prefixes.setdefault(key.rsplit("/", 1)[0] + "/" if "/" in key else "", set()).add(key)
        meta = {k: _iso(v) for k, v in d.items() if k != "title"}
        text = ""
        try:
            data = objects.get(key)
            try:
                text = data.decode("utf-8")
                meta["content"] = "text"
            except UnicodeDecodeError:
                meta["content"] = "binary"
            meta["object_sha256"] = hashlib.sha256(data).hexdigest()
        except ObjectNotFound:
            missing += 1
            meta["content"] = "missing"
        out.append(Record("document", d["id"], d["case_id"], _iso(d.get("created_on")),
                          fields={"title": d.get("title") or "", "text": text}, meta=meta))
    for prefix, keys in sorted(prefixes.items()):
        listed = set(objects.list(prefix)) if prefix else set()
        extra = len(listed - keys)
        note = f"{extra} object(s) under the prefix not linked to a document record" if extra else None
        s.log.append(SearchEntry("objects", f"{objects.uri}/{prefix}", "documents of the subject's cases", len(listed & keys), note))
    if missing:
        s.log.append(SearchEntry("objects", objects.uri, "document objects", 0, f"{missing} document object(s) missing"))
    return out


def _research(research: Any, person_id: str, s: _Searcher) -> list[Record]:
    if research is None:
        s.log.append(SearchEntry("research", "governance.research", "studies containing the subject", 0,
                                 "research: not installed"))
        return []
    studies = sorted(set(research(person_id)))
    s.log.append(SearchEntry("research", "governance.research.discovery", "studies containing the subject", len(studies)))
    return [Record("research_study", study, None, None, meta={"study_id": study}) for study in studies]


def research_lookup(settings: Any, store_name: str) -> Any:
    """``studies_containing`` bound to the store, or None if the research capability is absent."""
    name = "governance.research.discovery"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    module = importlib.import_module(name)
    return lambda person_id: module.studies_containing(settings, store_name, person_id)


def _ledger(engine: sa.Engine | None, ids: list[str], s: _Searcher) -> list[Record]:
    if engine is None:
        s.log.append(SearchEntry("ledger", "ledger_entries", "record_ids naming the subject or their cases", 0,
                                 "ledger not searched"))
        return []
    from governance.ledger.schema import entries_table as t

    found: dict[int, dict] = {}
    with engine.connect() as conn:
        for chunk in chunked(ids):
            cond = sa.or_(*(t.c.record_ids.contains(json.dumps(i), autoescape=True) for i in chunk))
            query = sa.select(t.c.seq, t.c.entry_id, t.c.recorded_at, t.c.actor, t.c.action, t.c.rule, t.c.record_ids).where(cond)
            for row in conn.execute(query).mappings():
                if set(json.loads(row["record_ids"])) & set(chunk):
                    found[row["seq"]] = dict(row)
    s.log.append(SearchEntry("ledger", "ledger_entries", "record_ids naming the subject or their cases", len(found)))
    return [Record("ledger_entry", e["entry_id"], None, e["recorded_at"][:10],
                   meta={"seq": e["seq"], "recorded_at": e["recorded_at"], "action": e["action"], "rule": e["rule"],
                         "actor": e["actor"]})
            for _, e in sorted(found.items())]
